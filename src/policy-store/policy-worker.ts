import { parentPort } from 'node:worker_threads';
import { VerdictError } from '../errors.js';
import { parseSources } from '../policy/compile-policy.js';
import { readPolicyDir } from './read-policy-dir.js';

/**
 * Worker thread for reloads: on each request it reads the policy folder, parses and
 * schema-checks it (the steps that cannot be cut into slices on the serving thread),
 * and sends the plain result back in chunks, so no single message takes long to
 * receive. It stays up between reloads: loading the validator costs more than a reload.
 */
const CHUNK = 250;
const port = parentPort!;
port.on('message', ({ id, dir }: { id: number; dir: string }) => {
  try {
    for (const f of parseSources(readPolicyDir(dir))) {
      const routes = f.routes ?? [];
      port.postMessage({ id, type: 'file', name: f.name, sha256: f.sha256, problems: f.problems, hasRoutes: f.routes !== undefined });
      for (let i = 0; i < routes.length; i += CHUNK) port.postMessage({ id, type: 'routes', routes: routes.slice(i, i + CHUNK) });
    }
    port.postMessage({ id, type: 'done' });
  } catch (e) {
    const problems = e instanceof VerdictError && e.problems.length > 0 ? [...e.problems] : [{ file: dir, pointer: '', message: (e as Error).message }];
    port.postMessage({ id, type: 'failed', problems });
  }
});
