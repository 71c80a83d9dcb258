// A small probe process for bench/policy-size.ts: probes a running Verdict's /healthz and a
// gRPC Check in two loops, one request at a time each, and reports the longest answer. It
// runs apart from the bench (which holds a compiled 10,000-route policy and its garbage),
// so the figures are the server's, not the prober's own pauses; its own longest event-loop
// delay is reported beside them to show that. Driven over stdin, one command a line:
// `start` (reset, probe), `stop` (stop, print one JSON line with the results).
//   node dist/bench/reload-probe.js --http=PORT --grpc=PORT --host=H --path=P
import { request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { authClient, envoyCheckRequest } from '../test/helpers/envoy-client.js';

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const httpPort = Number(args.get('http'));
const client = authClient(Number(args.get('grpc')));
const req = envoyCheckRequest({ host: args.get('host'), path: args.get('path') });

function healthz(): Promise<number> {
  return new Promise((resolve) => {
    request({ host: '127.0.0.1', port: httpPort, path: '/healthz' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', () => resolve(0))
      .end();
  });
}

let running = false;
let stats = { longestHealthz: 0, longestCheck: 0, healthz: 0, checks: 0, failures: 0, statuses: {} as Record<string, number> };
const delay = monitorEventLoopDelay({ resolution: 1 });
let loops: Promise<void>[] = [];

async function loop(probe: () => Promise<string>, record: (ms: number) => void): Promise<void> {
  while (running) {
    const t0 = performance.now();
    const outcome = await probe();
    record(performance.now() - t0);
    stats.statuses[outcome] = (stats.statuses[outcome] ?? 0) + 1;
  }
}

const probeHealthz = async () => {
  const status = await healthz();
  if (status !== 200) stats.failures++;
  return `healthz ${status}`;
};
const probeCheck = async () => {
  try {
    const res = await client.check(req);
    return `check ${res.denied_response?.status?.code ?? res.status?.code ?? '?'}`;
  } catch (e) {
    stats.failures++;
    return `check error ${(e as { code?: number }).code ?? ''}`;
  }
};

for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'start' && !running) {
    stats = { longestHealthz: 0, longestCheck: 0, healthz: 0, checks: 0, failures: 0, statuses: {} };
    delay.reset();
    delay.enable();
    running = true;
    loops = [
      loop(probeHealthz, (ms) => ((stats.longestHealthz = Math.max(stats.longestHealthz, ms)), stats.healthz++)),
      loop(probeCheck, (ms) => ((stats.longestCheck = Math.max(stats.longestCheck, ms)), stats.checks++)),
    ];
  } else if (line === 'stop' && running) {
    running = false;
    await Promise.all(loops);
    delay.disable();
    process.stdout.write(`${JSON.stringify({ ...stats, proberLongestDelay: delay.max / 1e6 })}\n`);
  }
}
client.close();
