import { AppError, ErrorCode } from '../errors.js';
import type { IdentityStore } from '../store/identity-store.js';

/**
 * Limits on password guessing, kept in the store so they hold across replicas.
 *
 * - Per account (the email, whatever the tenant): 5 failed sign-ins per 15 minutes. A person who
 *   mistypes gets several tries; an online guesser gets 480 a day per account, hopeless against a
 *   12-character minimum. A success clears the account's count. The cost, stated: someone who
 *   knows an email can keep that account locked; operators can see it in the logs and the user can
 *   still use a session already open.
 * - Per client address: 20 attempts (successes included) per minute. It bounds one machine
 *   spraying one password over many accounts, and leaves room for an office behind one NAT.
 */
export const ACCOUNT_FAILURES = { max: 5, windowMs: 15 * 60_000 } as const;
export const ADDRESS_ATTEMPTS = { max: 20, windowMs: 60_000 } as const;

/** Old attempts are deleted at most this often (per replica), on the way in: no extra timer to stop. */
export const PRUNE_EVERY_MS = 5 * 60_000;
const LONGEST_WINDOW_MS = Math.max(ACCOUNT_FAILURES.windowMs, ADDRESS_ATTEMPTS.windowMs);

const accountBucket = (email: string) => `account:${email}`;
const addressBucket = (address: string) => `address:${address}`;

export class LoginThrottle {
  private lastPrune = 0;

  constructor(private readonly store: IdentityStore) {}

  /** Throws SIGN_IN_THROTTLED (with retryAfter, in seconds) if either limit is reached; else counts the attempt. */
  async admit(email: string, address: string, now: Date): Promise<void> {
    if (now.getTime() - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now.getTime();
      await this.store.pruneLoginAttempts(new Date(now.getTime() - LONGEST_WINDOW_MS));
    }
    await this.check(accountBucket(email), ACCOUNT_FAILURES, now, 'this account');
    await this.check(addressBucket(address), ADDRESS_ATTEMPTS, now, 'this address');
    await this.store.recordLoginAttempt(addressBucket(address), now);
  }

  async failed(email: string, now: Date): Promise<void> {
    await this.store.recordLoginAttempt(accountBucket(email), now);
  }

  async succeeded(email: string, now: Date): Promise<void> {
    await this.store.clearLoginAttempts(accountBucket(email));
  }

  private async check(bucket: string, limit: { max: number; windowMs: number }, now: Date, what: string): Promise<void> {
    const since = new Date(now.getTime() - limit.windowMs);
    const { count, oldest } = await this.store.countLoginAttempts(bucket, since);
    if (count < limit.max) return;
    const retryAfter = Math.max(1, Math.ceil(((oldest?.getTime() ?? now.getTime()) + limit.windowMs - now.getTime()) / 1000));
    throw new AppError(
      ErrorCode.SIGN_IN_THROTTLED,
      `Too many sign-in attempts for ${what}; wait ${retryAfter} s and try again, or ask a tenant admin to reset the password.`,
      { retryAfter },
    );
  }
}
