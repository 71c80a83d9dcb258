/**
 * A separate client process (as Envoy is): fires `count` Check calls at once over
 * `channels` grpc-js channels, each with the same deadline, and prints one JSON summary.
 * Requests are encoded once per token up front, so the flood's own CPU (on a small shared
 * machine) does not delay the calls: the calls leave together, as Envoy's would.
 * Usage: node check-flood.js <port> <count> <deadlineMs> <channels> <tokensFile>
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { authCodec } from '../../src/envoy/codec.js';
import { AUTHORIZATION_SERVICE } from '../../src/envoy/protos.js';
import { envoyCheckRequest } from './envoy-client.js';

const [port, count, deadlineMs, channels, tokensFile] = process.argv.slice(2);
const tokens = JSON.parse(readFileSync(tokensFile!, 'utf8')) as string[];
const codec = authCodec();
const path = `/${AUTHORIZATION_SERVICE}/Check`;
const clients = Array.from({ length: Number(channels) }, () => new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()));
const wire = tokens.map((t) => codec.encodeRequest(envoyCheckRequest({ headers: { authorization: `Bearer ${t}` } })));
type Res = { denied_response?: { status?: { code?: number } }; dynamic_metadata?: { fields?: { reasons?: { listValue?: { values: { stringValue?: string }[] } } } } };

function call(client: grpc.Client, body: Buffer, deadline: number): Promise<Res> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => codec.decodeResponse(b) as Res, body, { deadline }, (err, res) => (err ? reject(err) : resolve(res!))),
  );
}

// Connect every channel first: the flood measures Verdict, not connection setup.
const warm = codec.encodeRequest(envoyCheckRequest({ host: 'status.example.com' }));
await Promise.all(clients.map((c) => call(c, warm, Date.now() + 10_000)));
const outcomes: Record<string, number> = {};
let lagMax = 0;
let lagLast = performance.now();
const lagTimer = setInterval(() => {
  const n = performance.now();
  lagMax = Math.max(lagMax, n - lagLast - 5);
  lagLast = n;
}, 5);
let maxMs = 0;
const started = performance.now();
const deadline = Date.now() + Number(deadlineMs);
await Promise.all(
  Array.from({ length: Number(count) }, (_, i) =>
    call(clients[i % clients.length]!, wire[i % wire.length]!, deadline).then(
      (res) => {
        const reasons = res.dynamic_metadata?.fields?.reasons?.listValue?.values.map((v) => v.stringValue).join(',');
        const key = `${res.denied_response?.status?.code ?? 200} ${reasons}`;
        outcomes[key] = (outcomes[key] ?? 0) + 1;
        maxMs = Math.max(maxMs, performance.now() - started);
      },
      (e: { code?: number; details?: string }) => {
        const key = `grpc-error ${e.code} ${String(e.details).split(' after')[0]}`;
        if (process.env.FLOOD_DEBUG) console.error(e.details, Math.round(performance.now() - started));
        outcomes[key] = (outcomes[key] ?? 0) + 1;
      },
    ),
  ),
);
clearInterval(lagTimer);
for (const c of clients) c.close();
process.stdout.write(`${JSON.stringify({ outcomes, maxMs: Math.round(maxMs), clientLagMs: Math.round(lagMax) })}\n`);
