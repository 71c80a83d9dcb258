/**
 * A separate client process (as Envoy is): fires `count` Check calls at once over
 * `connections` HTTP/2 connections, each call carrying the same deadline in its
 * `grpc-timeout` header, and prints one JSON summary.
 *
 * Plain node:http2, not grpc-js: on a small shared machine a grpc-js client doing a
 * thousand calls starved itself (its event loop lagged ~0.7 s, so it timed calls out
 * whose answers had already arrived). Here each call is a prepared gRPC frame written
 * once, and an answer costs the client one timestamp; decoding waits until all are in.
 * Like Envoy, the client judges its own deadline: an answer that arrives after it
 * counts as `client-deadline-exceeded`, whatever it says.
 * With `ids`, the summary also lists each answer's decision id and token index by outcome.
 * With `copies` n, the calls go token by token, n in a row on one connection (all read together).
 * Usage: node check-flood.js <port> <count> <deadlineMs> <connections> <tokensFile> [ids] [copies]
 */
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { authCodec } from '../../src/envoy/codec.js';
import { AUTHORIZATION_SERVICE } from '../../src/envoy/protos.js';
import { envoyCheckRequest } from './envoy-client.js';
import { checkRequestFrame } from './grpc-frame.js';

const [port, count, deadlineMs, connections, tokensFile, withIds, copiesArg] = process.argv.slice(2);
const copies = Number(copiesArg ?? 0);
/** Which token and connection call i uses. */
const tokenOf = (i: number) => (copies > 0 ? Math.floor(i / copies) : i) % tokens.length;
const connectionOf = (i: number) => (copies > 0 ? Math.floor(i / copies) : i) % Number(connections);
const tokens = JSON.parse(readFileSync(tokensFile!, 'utf8')) as string[];
const codec = authCodec();
const path = `/${AUTHORIZATION_SERVICE}/Check`;
const wire = tokens.map((t) => checkRequestFrame(envoyCheckRequest({ headers: { authorization: `Bearer ${t}` } })));
const sessions = Array.from({ length: Number(connections) }, () => http2.connect(`http://127.0.0.1:${port}`));

interface Answer {
  grpcStatus: number | undefined;
  grpcMessage: string | undefined;
  body: Buffer[];
  atMs: number;
  error?: string;
}

function call(session: http2.ClientHttp2Session, body: Buffer, timeoutMs: number, t0: number): Promise<Answer> {
  return new Promise((resolve) => {
    const a: Answer = { grpcStatus: undefined, grpcMessage: undefined, body: [], atMs: 0 };
    const s = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${timeoutMs}m` });
    const status = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) {
        a.grpcStatus = Number(h['grpc-status']);
        a.grpcMessage = h['grpc-message'] as string | undefined;
      }
    };
    s.on('response', status);
    s.on('trailers', status);
    s.on('data', (d: Buffer) => a.body.push(d));
    s.on('error', (e) => (a.error = e.message));
    s.on('close', () => {
      a.atMs = performance.now() - t0;
      resolve(a);
    });
    s.end(body);
  });
}

// Connect every connection first: the flood measures Verdict, not connection setup.
const warm = checkRequestFrame(envoyCheckRequest({ host: 'status.example.com' }));
await Promise.all(sessions.map((s) => call(s, warm, 10_000, performance.now())));

let lagMax = 0;
let lagLast = performance.now();
const lagTimer = setInterval(() => {
  const n = performance.now();
  lagMax = Math.max(lagMax, n - lagLast - 5);
  lagLast = n;
}, 5);
const timeout = Number(deadlineMs);
const t0 = performance.now();
const answers = await Promise.all(Array.from({ length: Number(count) }, (_, i) => call(sessions[connectionOf(i)]!, wire[tokenOf(i)]!, timeout, t0)));
clearInterval(lagTimer);
for (const s of sessions) s.close();

const outcomes: Record<string, number> = {};
const ids: Record<string, [string, number][]> = {};
let maxMs = 0;
let minMs = Number.POSITIVE_INFINITY;
for (const [i, a] of answers.entries()) {
  let key: string;
  let id: string | undefined;
  if (a.error !== undefined || a.grpcStatus === undefined) key = `stream-error ${a.error ?? 'no grpc-status'}`;
  else if (a.atMs > timeout) key = 'client-deadline-exceeded';
  else if (a.grpcStatus !== 0) key = `grpc-error ${a.grpcStatus} ${String(a.grpcMessage).split(' after')[0]}`;
  else {
    const buf = Buffer.concat(a.body);
    const res = codec.decodeResponse(buf.subarray(5, 5 + buf.readUInt32BE(1))) as { denied_response?: { status?: { code?: number } }; dynamic_metadata?: { fields?: { decision_id?: { stringValue?: string }; reasons?: { listValue?: { values: { stringValue?: string }[] } } } } };
    id = res.dynamic_metadata?.fields?.decision_id?.stringValue;
    const reasons = res.dynamic_metadata?.fields?.reasons?.listValue?.values.map((v) => v.stringValue).join(',');
    key = `${res.denied_response?.status?.code ?? 200} ${reasons}`;
  }
  outcomes[key] = (outcomes[key] ?? 0) + 1;
  if (withIds && id !== undefined) (ids[key] ??= []).push([id, tokenOf(i)]);
  maxMs = Math.max(maxMs, a.atMs);
  minMs = Math.min(minMs, a.atMs);
}
process.stdout.write(`${JSON.stringify({ outcomes, ...(withIds ? { ids } : {}), firstMs: Math.round(minMs), lastMs: Math.round(maxMs), clientLagMs: Math.round(lagMax) })}\n`);
