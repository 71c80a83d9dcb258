// `npm start`: compiles, then runs the CLI in this very process. npm runs a one-command script
// through `sh -c`, which execs it, so the process npm forwards SIGTERM/SIGINT to is Verdict
// itself — not a shell that dies and leaves the server running (`tsc && node …` did that).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) {
  process.stderr.write('verdict: the TypeScript build failed; not starting\n');
  process.exit(built.status ?? 1);
}
const { main } = await import(new URL('../dist/src/cli/main.js', import.meta.url).href);
process.exit(await main(process.argv.slice(2)));
