// Bench only, preloaded into a server with `--import`: SIGUSR2 starts a CPU profile, the next
// SIGUSR2 writes it (.cpuprofile, to $BENCH_PROF_DIR) and stops. `bench/run.ts` uses it to
// profile the peak phase alone (BENCH_PROF_PEAK), not start-up, warm-up and the slower phases.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const session = new Session();
session.connect();
let running = false;
let n = 0;
process.on('SIGUSR2', () => {
  if (!running) {
    running = true;
    session.post('Profiler.enable', () => session.post('Profiler.start'));
    return;
  }
  running = false;
  session.post('Profiler.stop', (err, res) => {
    if (err) return void process.stderr.write(`profile: ${err.message}\n`);
    const file = join(process.env.BENCH_PROF_DIR ?? '.', `peak-${process.pid}-${n++}.cpuprofile`);
    writeFileSync(file, JSON.stringify(res.profile));
    process.stderr.write(`profile written: ${file}\n`);
  });
});
