import { describe, expect, it } from 'vitest';
import { DelegateLimit } from './delegate-limit.js';

/** A count that the test moves, and how often it was read. */
function counter(initial: number) {
  const state = { connected: initial, reads: 0 };
  return {
    state,
    store: {
      countConnectedDelegates: async () => {
        state.reads++;
        return state.connected;
      },
    },
  };
}

describe('DelegateLimit', () => {
  it('counts once a second while far from the limit, adding its own admissions meanwhile', async () => {
    let t = 0;
    const { state, store } = counter(10);
    const limit = new DelegateLimit(store, 1_000, () => t);
    for (let i = 0; i < 100; i++) expect((await limit.check('tenant', `d-${i}`)).within).toBe(true);
    expect(state.reads).toBe(1);
    t += 1_000;
    await limit.check('tenant', 'd-x');
    expect(state.reads).toBe(2);
  });

  it('refuses only on an exact count, and counts again whenever the estimate nears the limit', async () => {
    const { state, store } = counter(0);
    const limit = new DelegateLimit(store, 3, () => 0);
    expect((await limit.check('tenant', 'a')).within).toBe(true); // read: 0
    state.connected = 1;
    expect((await limit.check('tenant', 'b')).within).toBe(true); // estimate 1, room for 2: not read
    expect(state.reads).toBe(1);
    state.connected = 2;
    expect((await limit.check('tenant', 'c')).within).toBe(true); // estimate 2, too near 3: read, 2
    expect(state.reads).toBe(2);
    state.connected = 3;
    const refused = await limit.check('tenant', 'd');
    expect(refused).toEqual({ within: false, connected: 3 });
    expect(state.reads).toBe(3);
    // One left: the next is let in on an exact count.
    state.connected = 2;
    expect((await limit.check('tenant', 'd')).within).toBe(true);
  });

  it('shares one count among the handshakes of a storm that find the estimate stale together', async () => {
    let t = 0;
    const { state, store } = counter(10);
    const limit = new DelegateLimit(store, 1_000, () => t);
    const first = await Promise.all(Array.from({ length: 200 }, (_, i) => limit.check('tenant', `d-${i}`)));
    expect(first.every((c) => c.within)).toBe(true);
    expect(state.reads).toBe(1);
    t += 1_000;
    const second = await Promise.all(Array.from({ length: 200 }, (_, i) => limit.check('tenant', `e-${i}`)));
    expect(second.every((c) => c.within)).toBe(true);
    expect(state.reads).toBe(2);
    // Each admitted after the count is one more in the estimate.
    expect(Math.max(...second.map((c) => c.connected))).toBe(10 + 199);
  });

  it('keeps tenants apart', async () => {
    const { state, store } = counter(5);
    const limit = new DelegateLimit(store, 6, () => 0);
    expect((await limit.check('a', 'x')).within).toBe(true);
    state.connected = 6;
    expect((await limit.check('b', 'y')).within).toBe(false);
  });
});
