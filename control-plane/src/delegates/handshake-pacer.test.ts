import { describe, expect, it } from 'vitest';
import { HandshakePacer, type HandshakeRefusal, type HandshakeTicket } from './handshake-pacer.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function refused(result: HandshakeTicket | HandshakeRefusal): HandshakeRefusal {
  if (result.admitted) throw new Error('expected a refusal');
  return result;
}

describe('HandshakePacer', () => {
  it('admits up to its limit, refuses the next, and admits again once one is done', () => {
    const c = clock();
    const pacer = new HandshakePacer({ maxInFlight: 2, now: c.now });
    const a = pacer.admit();
    const b = pacer.admit();
    expect(a.admitted && b.admitted).toBe(true);
    expect(pacer.inFlight).toBe(2);
    const third = refused(pacer.admit());
    expect(third.inFlight).toBe(2);
    expect(third.retryAfterMs).toBeGreaterThan(0);
    if (a.admitted) a.done();
    expect(pacer.inFlight).toBe(1);
    expect(pacer.admit().admitted).toBe(true);
    expect(pacer.refused).toBe(1);
  });

  it('frees a place once however often done() is called', () => {
    const pacer = new HandshakePacer({ maxInFlight: 1 });
    const a = pacer.admit();
    if (!a.admitted) throw new Error('expected admission');
    a.done();
    a.done();
    expect(pacer.inFlight).toBe(0);
    const b = pacer.admit();
    expect(b.admitted).toBe(true);
    expect(pacer.admit().admitted).toBe(false);
  });

  it('gives the refused slots spaced by the measured handshake time over the limit', () => {
    const c = clock();
    const pacer = new HandshakePacer({ maxInFlight: 10, minRetryMs: 100, maxRetryMs: 60_000, initialHandshakeMs: 200, now: c.now });
    const tickets = Array.from({ length: 10 }, () => pacer.admit());
    // 200 ms a handshake, 10 at once: the replica completes one every 20 ms.
    const hints = Array.from({ length: 50 }, () => refused(pacer.admit()).retryAfterMs);
    expect(hints[0]).toBe(100);
    for (let i = 1; i < hints.length; i++) expect(hints[i]! - hints[i - 1]!).toBe(20);
    // Handshakes that take longer widen the spacing.
    for (const t of tickets) {
      if (!t.admitted) throw new Error('expected admission');
      c.advance(1_000);
      t.done();
    }
    expect(pacer.handshakeMs).toBeGreaterThan(200);
  });

  it('starts a drained queue over at the shortest hint and never hints past its cap', () => {
    const c = clock();
    const pacer = new HandshakePacer({ maxInFlight: 1, minRetryMs: 250, maxRetryMs: 1_000, initialHandshakeMs: 100, now: c.now });
    pacer.admit();
    const hints = Array.from({ length: 30 }, () => refused(pacer.admit()).retryAfterMs);
    expect(Math.max(...hints)).toBe(1_000);
    expect(hints.filter((h) => h === 1_000).length).toBeGreaterThan(1);
    c.advance(5_000);
    expect(refused(pacer.admit()).retryAfterMs).toBe(250);
  });

  it('rejects a limit that is not a positive integer', () => {
    expect(() => new HandshakePacer({ maxInFlight: 0 })).toThrow(RangeError);
    expect(() => new HandshakePacer({ maxInFlight: 1.5 })).toThrow(RangeError);
  });
});
