import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles the ceiling from 500 ms up to the 10 s cap', () => {
    const backoff = new Backoff({ random: () => 0.999999 });
    const delays = Array.from({ length: 10 }, () => backoff.next());
    expect(delays.slice(0, 6)).toEqual([499, 999, 1999, 3999, 7999, 9999]);
    expect(delays.slice(6)).toEqual([9999, 9999, 9999, 9999]);
  });

  it('draws full jitter: every delay in [0, ceiling), spread across the range', () => {
    const backoff = new Backoff();
    for (let i = 0; i < 6; i++) backoff.next(); // ceiling now at the cap
    const samples = Array.from({ length: 2000 }, () => backoff.next());
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(10_000);
    // Full jitter, not "ceiling ± a little": both halves of the range are used.
    expect(samples.filter((s) => s < 5_000).length).toBeGreaterThan(700);
    expect(samples.filter((s) => s >= 5_000).length).toBeGreaterThan(700);
    expect(new Set(samples).size).toBeGreaterThan(1000);
  });

  it('starts over after reset', () => {
    const backoff = new Backoff({ random: () => 0.5 });
    for (let i = 0; i < 8; i++) backoff.next();
    expect(backoff.ceilingMs).toBe(10_000);
    backoff.reset();
    expect(backoff.ceilingMs).toBe(500);
    expect(backoff.next()).toBe(250);
  });

  it('rejects nonsensical bounds', () => {
    expect(() => new Backoff({ baseMs: 0 })).toThrow(RangeError);
    expect(() => new Backoff({ baseMs: 1000, capMs: 10 })).toThrow(RangeError);
  });
});
