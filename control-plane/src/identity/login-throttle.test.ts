import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AppError } from '../errors.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { ACCOUNT_FAILURES, ADDRESS_ATTEMPTS, LoginThrottle } from './login-throttle.js';

describe('LoginThrottle', () => {
  let store: SqliteStore;
  let throttle: LoginThrottle;
  const t0 = new Date(Date.UTC(2026, 0, 1, 12));
  const later = (ms: number) => new Date(t0.getTime() + ms);

  beforeEach(async () => {
    store = SqliteStore.open({ path: ':memory:' });
    await store.migrate();
    throttle = new LoginThrottle(store.identity);
  });
  afterEach(async () => store.close());

  async function refusal(p: Promise<unknown>): Promise<AppError | null> {
    return p.then(
      () => null,
      (err: AppError) => err,
    );
  }

  it('refuses an account after 5 failures until the oldest leaves the 15-minute window, and a success resets it', async () => {
    for (let i = 0; i < ACCOUNT_FAILURES.max; i++) {
      await throttle.admit('a@example.com', `10.0.0.${i}`, later(i * 1000));
      await throttle.failed('a@example.com', later(i * 1000));
    }
    const err = await refusal(throttle.admit('a@example.com', '10.0.1.1', later(10_000)));
    expect(err?.code).toBe('SIGN_IN_THROTTLED');
    expect(err?.details['retryAfter']).toBe(ACCOUNT_FAILURES.windowMs / 1000 - 10);
    expect(await refusal(throttle.admit('b@example.com', '10.0.1.1', later(10_000)))).toBeNull();
    expect(await refusal(throttle.admit('a@example.com', '10.0.1.2', later(ACCOUNT_FAILURES.windowMs + 1)))).toBeNull();
    await throttle.succeeded('a@example.com', later(ACCOUNT_FAILURES.windowMs + 2));
    for (let i = 0; i < ACCOUNT_FAILURES.max - 1; i++) await throttle.failed('a@example.com', later(ACCOUNT_FAILURES.windowMs + 3));
    expect(await refusal(throttle.admit('a@example.com', '10.0.1.3', later(ACCOUNT_FAILURES.windowMs + 4)))).toBeNull();
  });

  it('refuses an address after 20 attempts in a minute, whatever the accounts', async () => {
    for (let i = 0; i < ADDRESS_ATTEMPTS.max; i++) await throttle.admit(`u${i}@example.com`, '192.0.2.1', later(i));
    const err = await refusal(throttle.admit('other@example.com', '192.0.2.1', later(100)));
    expect(err?.code).toBe('SIGN_IN_THROTTLED');
    expect(err?.details['retryAfter']).toBe(60);
    expect(await refusal(throttle.admit('other@example.com', '192.0.2.2', later(100)))).toBeNull();
    expect(await refusal(throttle.admit('other@example.com', '192.0.2.1', later(ADDRESS_ATTEMPTS.windowMs + 20)))).toBeNull();
  });

  it('deletes attempts older than every window on the way in', async () => {
    await store.identity.recordLoginAttempt('address:198.51.100.1', later(-60 * 60_000));
    await throttle.admit('x@example.com', '198.51.100.9', t0);
    expect((await store.identity.countLoginAttempts('address:198.51.100.1', new Date(0))).count).toBe(0);
  });
});
