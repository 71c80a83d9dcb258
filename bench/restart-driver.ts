// The load side of bench/restart-curve.ts, in its own process (as Envoy is): an open-loop
// sender of prepared Check frames over plain node:http2 at a fixed rate, each call carrying a
// deadline (`grpc-timeout`), one distinct token per call. Prints one JSON line: per second
// of sending, the calls sent and how they ended.
// Usage: node restart-driver.js <port> <rate> <seconds> <deadlineMs> <connections> <framesFile>
import { readFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { authCodec } from '../src/envoy/codec.js';
import { AUTHORIZATION_SERVICE } from '../src/envoy/protos.js';

const [port, rateArg, secondsArg, deadlineArg, connectionsArg, framesFile] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const deadlineMs = Number(deadlineArg);
const codec = authCodec();
const path = `/${AUTHORIZATION_SERVICE}/Check`;

// The frames file is gRPC frames back to back (5-byte prefix each): split without copying.
const all = readFileSync(framesFile!);
const frames: Buffer[] = [];
for (let at = 0; at < all.length; ) {
  const len = 5 + all.readUInt32BE(at + 1);
  frames.push(all.subarray(at, at + len));
  at += len;
}

interface Second {
  sent: number;
  allow: number;
  shed: number; // 503 overloaded
  deadline: number; // 503 internal-error (Verdict's own answer at the deadline)
  other: number; // any other CheckResponse (401, 403, 503 identity-unavailable, …)
  late: number; // answered after the caller's deadline: Envoy would have timed out
  errors: number; // a gRPC error status (DEADLINE_EXCEEDED from grpc-js, …) or a broken stream
  latencies: number[];
}
const perSecond: Second[] = Array.from({ length: seconds }, () => ({ sent: 0, allow: 0, shed: 0, deadline: 0, other: 0, late: 0, errors: 0, latencies: [] }));

const sessions = Array.from({ length: Number(connectionsArg) }, () => http2.connect(`http://127.0.0.1:${port}`));
for (const s of sessions) s.on('error', () => {});
let pending = 0;
/** gRPC status (or stream error) of the calls that got no CheckResponse. */
const errorKinds: Record<string, number> = {};

function send(frame: Buffer, sec: Second, session: http2.ClientHttp2Session): void {
  const t0 = performance.now();
  pending++;
  let status: number | undefined;
  const body: Buffer[] = [];
  let s: http2.ClientHttp2Stream;
  try {
    s = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${deadlineMs}m` });
  } catch {
    sec.errors++;
    pending--;
    return;
  }
  sec.sent++;
  const onHeaders = (h: http2.IncomingHttpHeaders) => {
    if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
  };
  s.on('response', onHeaders);
  s.on('trailers', onHeaders);
  s.on('data', (d: Buffer) => body.push(d));
  let streamError: string | undefined;
  s.on('error', (e) => (streamError = e.message));
  s.on('close', () => {
    pending--;
    const ms = performance.now() - t0;
    if (status !== 0) {
      sec.errors++;
      const kind = status === undefined ? `stream ${streamError ?? 'closed'}` : `grpc-status ${status}`;
      errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      return;
    }
    sec.latencies.push(ms);
    if (ms > deadlineMs) {
      sec.late++;
      return;
    }
    const buf = Buffer.concat(body);
    const res = codec.decodeResponse(buf.subarray(5, 5 + buf.readUInt32BE(1))) as { denied_response?: { status?: { code?: number } }; dynamic_metadata?: { fields?: { reasons?: { listValue?: { values: { stringValue?: string }[] } } } } };
    const code = res.denied_response?.status?.code ?? 200;
    const reasons = res.dynamic_metadata?.fields?.reasons?.listValue?.values.map((v) => v.stringValue).join(',');
    if (code === 200) sec.allow++;
    else if (code === 503 && reasons === 'overloaded') sec.shed++;
    else if (code === 503 && reasons === 'internal-error') sec.deadline++;
    else sec.other++;
  });
  s.end(frame);
}

await Promise.all(sessions.map((s) => new Promise((r) => s.once('connect', r))));
const start = performance.now();
let sent = 0;
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const elapsed = performance.now() - start;
    const sec = Math.floor(elapsed / 1000);
    if (sec >= seconds) {
      clearInterval(tick);
      resolve();
      return;
    }
    const due = Math.min(frames.length, Math.floor((elapsed / 1000) * rate));
    for (; sent < due; sent++) send(frames[sent]!, perSecond[sec]!, sessions[sent % sessions.length]!);
  }, 5);
});
// Whatever is still open gets until its deadline and a little more.
const end = performance.now() + deadlineMs + 3000;
while (pending > 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 20));
for (const s of sessions) s.destroy();

const p99 = (xs: number[]) => {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!);
};
process.stdout.write(`${JSON.stringify({ unanswered: pending, errorKinds, seconds: perSecond.map(({ latencies, ...rest }) => ({ ...rest, answers: latencies.length, p99: p99(latencies), max: latencies.length ? Math.round(Math.max(...latencies)) : null })) })}\n`);
process.exit(0);
