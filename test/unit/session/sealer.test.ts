import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Sealer } from '../../../src/session/sealer.js';
import { sessionKey } from '../../helpers/sessions.js';

describe('sealed cookies', () => {
  const now = Date.parse('2026-11-23T10:00:00Z');

  it('opens what it sealed, for the same purpose only', async () => {
    const s = new Sealer([sessionKey()]);
    const token = await s.seal({ sid: 'x' }, 'session', 60, now);
    assert.equal((await s.open(token, 'session', now))?.sid, 'x');
    assert.equal(await s.open(token, 'login', now), undefined, 'a session token is no login state');
  });

  it('rotates keys: the newest seals, every listed key opens, an unlisted key does not', async () => {
    const [k1, k2] = [sessionKey(), sessionKey()];
    const old = await new Sealer([k1]).seal({ sid: 'old' }, 'session', 60, now);
    const rotated = new Sealer([k2, k1]);
    assert.equal((await rotated.open(old, 'session', now))?.sid, 'old');
    const fresh = await rotated.seal({ sid: 'new' }, 'session', 60, now);
    assert.equal((await new Sealer([k2]).open(fresh, 'session', now))?.sid, 'new');
    assert.equal(await new Sealer([k2]).open(old, 'session', now), undefined, 'a dropped key opens nothing');
  });

  it('refuses expired, tampered and oversized tokens', async () => {
    const s = new Sealer([sessionKey()]);
    const token = await s.seal({ sid: 'x' }, 'session', 60, now);
    assert.equal(await s.open(token, 'session', now + 61_000), undefined);
    const parts = token.split('.');
    parts[3] = parts[3]!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    assert.equal(await s.open(parts.join('.'), 'session', now), undefined);
    assert.equal(await s.open('x'.repeat(4001), 'session', now), undefined);
    assert.equal(await s.open('garbage', 'session', now), undefined);
  });

  it('rejects keys that are not 32 bytes', () => {
    assert.throws(() => new Sealer(['c2hvcnQ']), /32 bytes/);
  });
});
