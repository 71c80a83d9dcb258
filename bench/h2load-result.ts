// Reading one h2load run, shared by the load benches: requests per second, successes and
// failures from its summary, latency percentiles (ms) from its --log-file.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface H2loadResult {
  readonly rps: number;
  /** Undefined when h2load printed no summary (it did not run to the end). */
  readonly succeeded: number | undefined;
  readonly failed: number | undefined;
  /** Latency at percentile p (0–100), in milliseconds. */
  pct(p: number): number;
}

export function h2loadResult(stdout: string, logFile: string): H2loadResult {
  const rps = Number(/finished in [\d.]+\w+, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? NaN);
  const m = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(stdout);
  const times = readFileSync(logFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => Number(l.split('\t')[2]))
    .sort((a, b) => a - b);
  return {
    rps,
    succeeded: m ? Number(m[1]) : undefined,
    failed: m ? Number(m[2]) : undefined,
    pct: (p) => (times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))] ?? NaN) / 1000,
  };
}

/** Stops a bench that needs h2load, with how to get it. */
export function requireH2load(): void {
  if (spawnSync('h2load', ['--version']).error) {
    process.stderr.write('bench: h2load not found; install it with `apt-get install nghttp2-client`\n');
    process.exit(1);
  }
}
