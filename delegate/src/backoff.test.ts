import { describe, expect, it } from 'vitest';
import { Backoff, MAX_RETRY_HINT_MS } from './backoff.js';

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

  it('follows a retry hint with jitter above it, and leaves the failure count alone', () => {
    let r = 0;
    const backoff = new Backoff({ random: () => r });
    backoff.next();
    const ceiling = backoff.ceilingMs;
    expect(backoff.afterHint(2_000)).toBe(2_000);
    r = 0.999999;
    expect(backoff.afterHint(2_000)).toBe(2_999);
    expect(backoff.ceilingMs).toBe(ceiling);
    // A hint past the cap is cut to it, and a negative one is no wait at all.
    r = 0;
    expect(backoff.afterHint(10 * MAX_RETRY_HINT_MS)).toBe(MAX_RETRY_HINT_MS);
    expect(backoff.afterHint(-5)).toBe(0);
  });

  it('spreads delegates given the same hint over [hint, 1.5 × hint)', () => {
    const backoff = new Backoff();
    const samples = Array.from({ length: 2000 }, () => backoff.afterHint(1_000));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(1_000);
    expect(Math.max(...samples)).toBeLessThan(1_500);
    expect(samples.filter((s) => s < 1_250).length).toBeGreaterThan(700);
    expect(samples.filter((s) => s >= 1_250).length).toBeGreaterThan(700);
  });
});
