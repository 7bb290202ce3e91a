import { AppError, ErrorCode } from '../errors.js';

/**
 * Failed authentications counted per client address in fixed windows. Past the limit, every
 * request from that address is refused until its window ends, valid key or not: a guesser cannot
 * interleave good requests to stay under it, and each failure costs us a hash, a store lookup and
 * a log line.
 *
 * 100 per minute: a person or program with a wrong key fails a handful of times before someone
 * looks; a client behind a shared NAT would need dozens of broken clients to reach it. API keys
 * carry 256 bits, so the limit is not what makes them unguessable: it bounds the load and noise of
 * trying.
 */
export const AUTH_FAILURE_LIMIT = 100;
export const AUTH_FAILURE_WINDOW_MS = 60_000;
/**
 * Addresses tracked at once. Each entry is a few dozen bytes; past this many the oldest windows are
 * dropped first, so a flood from many addresses costs bounded memory (and those addresses start
 * over, which only helps a guesser who already controls that many addresses).
 */
export const AUTH_FAILURE_MAX_ADDRESSES = 100_000;

interface Window {
  startedAt: number;
  failures: number;
}

export class AuthFailureLimiter {
  /** Insertion order is window start order: expired windows are at the front. */
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly limit = AUTH_FAILURE_LIMIT,
    private readonly windowMs = AUTH_FAILURE_WINDOW_MS,
    private readonly maxAddresses = AUTH_FAILURE_MAX_ADDRESSES,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `address` may try again, or 0 when it is not blocked. */
  blockedFor(address: string): number {
    const w = this.current(address);
    if (!w || w.failures < this.limit) return 0;
    return w.startedAt + this.windowMs - this.now();
  }

  recordFailure(address: string): void {
    let w = this.current(address);
    if (!w) {
      this.prune();
      w = { startedAt: this.now(), failures: 0 };
      this.windows.set(address, w);
    }
    w.failures++;
  }

  /**
   * The refusal for an address past the limit (429 AUTH_RATE_LIMITED, `details.retryAfter` in
   * seconds), or undefined. One sentence for the API and the WebSocket upgrade alike.
   */
  refusal(address: string): AppError | undefined {
    const waitMs = this.blockedFor(address);
    if (waitMs <= 0) return undefined;
    const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
    return new AppError(
      ErrorCode.AUTH_RATE_LIMITED,
      `Too many failed authentications from ${address} (${this.limit} within ${this.windowSeconds} s): every request from this address is refused, even with a valid key, for the rest of the window. Retry after ${retryAfter} s, and check the key your clients send.`,
      { retryAfter, limit: this.limit, windowSeconds: this.windowSeconds },
    );
  }

  get windowSeconds(): number {
    return Math.round(this.windowMs / 1000);
  }

  get maxFailures(): number {
    return this.limit;
  }

  private current(address: string): Window | undefined {
    const w = this.windows.get(address);
    if (w && this.now() - w.startedAt >= this.windowMs) {
      this.windows.delete(address);
      return undefined;
    }
    return w;
  }

  private prune(): void {
    const now = this.now();
    for (const [address, w] of this.windows) {
      if (now - w.startedAt < this.windowMs && this.windows.size < this.maxAddresses) break;
      this.windows.delete(address);
    }
  }
}
