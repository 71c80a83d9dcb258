import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { verdict } from '../helpers/cli.js';

const DIR = 'examples/policy-review';
// The policy hash names the files as the loader does; compare the report, not the hash.
const withoutHash = (s: string) => s.replace(/policy [0-9a-f]{12}/, 'policy <hash>');

describe('the policy review example (docs/policy-review.md)', () => {
  it('its trail is a real, intact trail written by verdict serve', () => {
    const r = verdict(['audit', 'verify', `${DIR}/trail.jsonl`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^intact: 21 records/);
  });

  it('the CI steps: validate, lint, test --coverage on the proposal, then replay prints the expected table', () => {
    assert.equal(verdict(['validate', '--policies', `${DIR}/proposed`]).code, 0);
    const tests = verdict(['test', '--policies', `${DIR}/proposed`, '--coverage', '--min-coverage', '100']);
    assert.equal(tests.code, 0, tests.stdout);
    assert.match(tests.stdout, /^coverage: 10\/10 100\.0%$/m);
    const lint = verdict(['lint', '--policies', `${DIR}/proposed`]);
    assert.equal(lint.code, 0, lint.stdout);
    const replay = verdict(['replay', '--policies', `${DIR}/proposed`, `${DIR}/trail.jsonl`]);
    assert.equal(replay.code, 1, replay.stderr);
    assert.equal(withoutHash(replay.stdout), withoutHash(readFileSync(`${DIR}/expected-replay.txt`, 'utf8')));
  });

  it('the policy in force replays without a change', () => {
    const same = verdict(['replay', '--policies', `${DIR}/policies`, `${DIR}/trail.jsonl`]);
    assert.equal(same.code, 0, same.stdout);
    assert.match(same.stdout, /18 unchanged, 0 flipped, 0 undecidable/);
  });

  it('the documented CI job is valid YAML and runs validate, lint, test --coverage and replay', () => {
    const doc = readFileSync('docs/policy-review.md', 'utf8');
    const job = parse(/```yaml\n([\s\S]*?)```/.exec(doc)![1]!) as { jobs: { review: { steps: { run?: string }[] } } };
    const runs = job.jobs.review.steps.map((s) => s.run ?? '').join('\n');
    for (const command of ['verdict validate', 'verdict lint', 'verdict test --policies policies --coverage --min-coverage', 'verdict replay --policies']) assert.ok(runs.includes(command), command);
  });
});
