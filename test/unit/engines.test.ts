import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import semver from 'semver';

const ROOT = process.cwd();
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[]; dev?: boolean }> };

describe('supported Node versions', () => {
  const promised = pkg.engines.node;
  // The lowest version of each line the package promises: if a dependency accepts those, it
  // accepts the whole promise (engine ranges are lower bounds or unions of lines).
  const floors = ['20.11.0', '22.0.0', '24.0.0'].filter((v) => semver.satisfies(v, promised));

  it('the promise is deliberate: Node 20.11+ and 22+, not 21 (lru-cache refuses it) and not below 20.11', () => {
    assert.deepEqual(floors, ['20.11.0', '22.0.0', '24.0.0']);
    assert.equal(semver.satisfies('21.7.0', promised), false);
    assert.equal(semver.satisfies('20.10.0', promised), false);
  });

  it('every locked package (runtime and dev: npm ci installs both) accepts every promised line: no EBADENGINE on npm ci', () => {
    const refusing: string[] = [];
    for (const [path, p] of Object.entries(lock.packages)) {
      const range = p.engines && !Array.isArray(p.engines) ? p.engines.node : undefined;
      if (path === '' || !range) continue;
      for (const v of floors) if (!semver.satisfies(v, range)) refusing.push(`${path}@${p.version} wants node ${range}, refuses ${v}`);
    }
    assert.deepEqual(refusing, []);
  });

  it('this run is on a promised version', () => {
    assert.ok(semver.satisfies(process.versions.node, promised), `${process.versions.node} vs ${promised}`);
  });
});
