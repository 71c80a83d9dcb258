import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { SyslogForwarder, type SyslogStats } from '../../../src/audit/syslog-forwarder.js';

/** A real TCP receiver that counts RFC 6587 octet-counted frames, and can stop reading. */
async function receiver(): Promise<{ server: Server; port: number; frames: () => number; conns: Socket[]; close(): void }> {
  let frames = 0;
  const conns: Socket[] = [];
  const server = createServer((s) => {
    conns.push(s);
    let buf = Buffer.alloc(0);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const sp = buf.indexOf(0x20);
        if (sp < 0) break;
        const len = Number(buf.subarray(0, sp).toString());
        assert.ok(Number.isInteger(len) && len > 0, 'frames arrive whole and in order');
        if (buf.length < sp + 1 + len) break;
        buf = buf.subarray(sp + 1 + len);
        frames++;
      }
    });
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    port: (server.address() as { port: number }).port,
    frames: () => frames,
    conns,
    close() {
      for (const c of conns) c.destroy();
      server.close();
    },
  };
}

async function until(what: string, cond: () => boolean, tries = 250): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

const accounted = (s: SyslogStats) => s.written + s.dropped + s.queued + s.inFlight;
const line = 'x'.repeat(1000);

describe('syslog copies: memory bounded, every copy accounted for', () => {
  it('a receiver connected but not reading: the socket buffer and the queue stay bounded, drops are counted', async () => {
    const r = await receiver();
    let droppedByCallback = 0;
    const f = new SyslogForwarder({ host: '127.0.0.1', port: r.port, maxQueue: 500, maxSocketBytes: 128 * 1024, onDrop: (n) => (droppedByCallback += n) });
    await until('connected', () => r.conns.length === 1);
    r.conns[0]!.pause(); // stops reading: the kernel buffers fill, then Node's
    let peak = 0;
    for (let i = 0; i < 30_000; i++) {
      f.send(line, 'info');
      if (i % 100 === 0) {
        peak = Math.max(peak, f.stats().bufferedBytes);
        await new Promise((res) => setImmediate(res));
      }
    }
    const s = f.stats();
    peak = Math.max(peak, s.bufferedBytes);
    // 500 queued records (~1.1 KB each) + the socket bound + one 64 KiB chunk over it.
    assert.ok(peak < 1.5 * 1024 * 1024, `bounded: peak ${peak} bytes held for 30,000 copies (~33 MB)`);
    assert.ok(s.dropped > 0, 'copies beyond the bound were dropped');
    assert.equal(droppedByCallback, s.dropped, 'every drop reported (metric and summary log)');
    assert.equal(accounted(s), s.sent);
    // The receiver reads again: everything not dropped arrives.
    r.conns[0]!.resume();
    await until('the rest delivered', () => r.frames() === f.stats().sent - f.stats().dropped);
    await f.close();
    assert.equal(r.frames() + f.stats().dropped, 30_000);
    r.close();
  });

  it('a disconnect with copies still in the socket buffer counts them as dropped, then reconnects', async () => {
    const r = await receiver();
    const f = new SyslogForwarder({ host: '127.0.0.1', port: r.port, maxQueue: 100_000, maxSocketBytes: 4 * 1024 * 1024 });
    await until('connected', () => r.conns.length === 1);
    r.conns[0]!.pause();
    for (let i = 0; i < 20_000; i++) f.send(line, 'info');
    await until('copies waiting in the socket', () => f.stats().inFlight > 0);
    const before = f.stats();
    r.conns[0]!.destroy(); // the receiver goes away with our copies unread
    // Those still in the socket's buffer are dropped (a last chunk may have reached the kernel just before).
    await until('the disconnect is seen', () => f.stats().dropped > 0);
    assert.ok(f.stats().dropped + f.stats().written >= before.inFlight + before.written);
    assert.equal(accounted(f.stats()), f.stats().sent, 'nothing lost without being counted');
    await until('reconnected', () => r.conns.length === 2);
    const frames = r.frames();
    for (let i = 0; i < 10; i++) f.send(line, 'info');
    await until('new copies arrive on the new connection', () => r.frames() >= frames + 10);
    await f.close();
    r.close();
  });

  it('a receiver that refuses connections: the queue is capped at max_queue', async () => {
    const r = await receiver();
    const port = r.port;
    await new Promise((res) => r.server.close(res)); // nothing listens: connections are refused
    const f = new SyslogForwarder({ host: '127.0.0.1', port, maxQueue: 100 });
    for (let i = 0; i < 5000; i++) f.send(line, 'info');
    const s = f.stats();
    assert.equal(s.queued, 100);
    assert.equal(s.dropped, 4900);
    await f.close();
    assert.equal(f.stats().dropped, 5000, 'what was still queued at close is counted too');
  });
});
