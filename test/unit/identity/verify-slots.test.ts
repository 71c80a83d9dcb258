import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VerifySlots } from '../../../src/identity/verify-slots.js';

describe('VerifySlots: bounded verifications, shed when they cannot finish in time', () => {
  it('grants up to the limit, queues what can finish before its deadline, sheds what cannot', async () => {
    let now = 1000;
    const slots = new VerifySlots(2, 100, () => now);
    assert.equal(await slots.acquire({ ms: now + 1000 }), true);
    assert.equal(await slots.acquire({ ms: now + 1000 }), true);
    const queued = slots.acquire({ ms: now + 1000 });
    assert.equal(slots.queued, 1);
    // No slot frees for 600 ms with both busy: the pace is at least that, so a check with
    // 500 ms left cannot finish and is shed at once, and the queued one (400 ms left, 2 paces away) too.
    now += 600;
    assert.equal(await slots.acquire({ ms: now + 500 }), false);
    assert.equal(await queued, false, 'the queued waiter is shed when the pace doubles, not at its deadline');
    assert.equal(slots.queued, 0);
  });

  it('passes a freed slot to the next waiter that can still make it', async () => {
    let now = 0;
    const slots = new VerifySlots(1, 100, () => now);
    assert.equal(await slots.acquire({ ms: 10_000 }), true);
    const next = slots.acquire({ ms: 10_000 });
    now += 5;
    slots.release(5);
    assert.equal(await next, true);
    assert.equal(slots.inFlight, 1);
    slots.release(1);
    assert.equal(slots.inFlight, 0);
  });

  it('sheds beyond the queue bound even without a deadline', async () => {
    const slots = new VerifySlots(1, 1, () => 0);
    assert.equal(await slots.acquire({ ms: Infinity }), true);
    void slots.acquire({ ms: Infinity });
    assert.equal(await slots.acquire({ ms: Infinity }), false);
  });
});
