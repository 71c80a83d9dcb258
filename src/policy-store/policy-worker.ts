import { parentPort } from 'node:worker_threads';
import { VerdictError } from '../errors.js';
import { parseSources } from '../policy/compile-policy.js';
import { readPolicyDir } from './read-policy-dir.js';

/**
 * Worker thread for reloads: on each request it reads the policy folder, parses and
 * schema-checks it (the steps that cannot be cut into slices on the serving thread),
 * and sends the result back as JSON texts of 250 routes each, which the serving thread
 * parses one at a time between its compile slices. It stays up between reloads: loading the validator costs more than a reload.
 */
const CHUNK = 250;
const port = parentPort!;
port.on('message', ({ id, dir }: { id: number; dir: string }) => {
  try {
    for (const f of parseSources(readPolicyDir(dir))) {
      const routes = f.routes ?? [];
      port.postMessage({ id, type: 'file', name: f.name, sha256: f.sha256, problems: f.problems, hasRoutes: f.routes !== undefined });
      // JSON text: the serving thread receives every queued message in one turn, and
      // copying a string costs far less there than rebuilding objects from a clone.
      for (let i = 0; i < routes.length; i += CHUNK) port.postMessage({ id, type: 'routes', json: JSON.stringify(routes.slice(i, i + CHUNK)) });
    }
    port.postMessage({ id, type: 'done' });
  } catch (e) {
    const problems = e instanceof VerdictError && e.problems.length > 0 ? [...e.problems] : [{ file: dir, pointer: '', message: (e as Error).message }];
    port.postMessage({ id, type: 'failed', problems });
  }
});
