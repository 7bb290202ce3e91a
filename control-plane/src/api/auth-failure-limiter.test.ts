import { describe, expect, it } from 'vitest';
import { AuthFailureLimiter } from './auth-failure-limiter.js';

describe('AuthFailureLimiter', () => {
  it('blocks an address after the limit for the rest of its window only, then starts over', () => {
    let now = 1_000_000;
    const limiter = new AuthFailureLimiter(3, 60_000, 100, () => now);
    for (let i = 0; i < 2; i++) limiter.recordFailure('10.0.0.1');
    expect(limiter.blockedFor('10.0.0.1')).toBe(0);
    now += 10_000;
    limiter.recordFailure('10.0.0.1');
    // The window started at the first failure: 50 s are left of it.
    expect(limiter.blockedFor('10.0.0.1')).toBe(50_000);
    expect(limiter.blockedFor('10.0.0.2')).toBe(0);
    now += 49_999;
    expect(limiter.blockedFor('10.0.0.1')).toBe(1);
    now += 1;
    expect(limiter.blockedFor('10.0.0.1')).toBe(0);
    limiter.recordFailure('10.0.0.1');
    expect(limiter.blockedFor('10.0.0.1')).toBe(0);
  });

  it('tracks a bounded number of addresses, dropping the oldest windows first', () => {
    let now = 0;
    const limiter = new AuthFailureLimiter(1, 60_000, 3, () => now);
    for (const a of ['a', 'b', 'c']) {
      limiter.recordFailure(a);
      now += 1;
    }
    expect(['a', 'b', 'c'].map((a) => limiter.blockedFor(a) > 0)).toEqual([true, true, true]);
    limiter.recordFailure('d');
    // 'a' had the oldest window and made room; the others are still blocked.
    expect(['a', 'b', 'c', 'd'].map((a) => limiter.blockedFor(a) > 0)).toEqual([false, true, true, true]);
  });

  it('refuses past the limit with AUTH_RATE_LIMITED and whole seconds to wait', () => {
    let now = 0;
    const limiter = new AuthFailureLimiter(2, 60_000, 100, () => now);
    limiter.recordFailure('10.0.0.9');
    expect(limiter.refusal('10.0.0.9')).toBeUndefined();
    limiter.recordFailure('10.0.0.9');
    now += 500;
    const refusal = limiter.refusal('10.0.0.9');
    expect(refusal?.status).toBe(429);
    expect(refusal?.code).toBe('AUTH_RATE_LIMITED');
    expect(refusal?.details).toEqual({ retryAfter: 60, limit: 2, windowSeconds: 60 });
    expect(refusal?.message).toContain('10.0.0.9');
    now += 59_400;
    expect(limiter.refusal('10.0.0.9')?.details['retryAfter']).toBe(1);
  });
});
