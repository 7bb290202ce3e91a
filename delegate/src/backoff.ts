/**
 * Reconnect delays: exponential with full jitter (a uniformly random delay between 0 and the
 * exponential ceiling), so that delegates cut off together by a control-plane restart do not
 * reconnect in lock-step.
 */
export interface BackoffOptions {
  /** Ceiling of the first delay. Default 500 ms: a quick retry for a blip. */
  baseMs?: number;
  /**
   * Largest ceiling. Default 10 s: after a control-plane restart every delegate is back within about
   * 10 s of it listening again, while full jitter still spreads N delegates over that window
   * (10,000 delegates ≈ 1,000 connects/s, which one process absorbs).
   */
  capMs?: number;
  /** Source of randomness in [0, 1); injectable for tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF_BASE_MS = 500;
export const DEFAULT_BACKOFF_CAP_MS = 10_000;
/**
 * The longest a control plane's retry hint is followed: a hint past it (a misconfigured or
 * hostile server) is cut to it, so a delegate never sleeps for hours on one Goodbye.
 */
export const MAX_RETRY_HINT_MS = 60_000;
/** Jitter added on top of a hint, as a fraction of it: the refused spread over [hint, 1.5 × hint]. */
export const RETRY_HINT_JITTER = 0.5;

export class Backoff {
  private readonly baseMs: number;
  private readonly capMs: number;
  private readonly random: () => number;
  private failures = 0;

  constructor(options: BackoffOptions = {}) {
    this.baseMs = options.baseMs ?? DEFAULT_BACKOFF_BASE_MS;
    this.capMs = options.capMs ?? DEFAULT_BACKOFF_CAP_MS;
    this.random = options.random ?? Math.random;
    if (!(this.baseMs > 0) || !(this.capMs >= this.baseMs)) {
      throw new RangeError(`backoff needs 0 < baseMs <= capMs (got ${this.baseMs}, ${this.capMs})`);
    }
  }

  /** Upper bound of the next delay: min(cap, base * 2^failures). */
  get ceilingMs(): number {
    // Capping the exponent keeps 2 ** n finite however long the outage lasts.
    return Math.min(this.capMs, this.baseMs * 2 ** Math.min(this.failures, 52));
  }

  /** The next delay in milliseconds; each call grows the ceiling until the cap. */
  next(): number {
    const delay = Math.floor(this.random() * this.ceilingMs);
    this.failures++;
    return delay;
  }

  /**
   * The delay for a control plane's retry hint (Goodbye.retry_after_ms): the hint plus up to half
   * of it again at random, so delegates the control plane refused in the same moment, and given the
   * same slot, still arrive apart. The failure count is left as it is: pacing is not an outage.
   */
  afterHint(hintMs: number): number {
    const hint = Math.min(Math.max(0, hintMs), MAX_RETRY_HINT_MS);
    return Math.floor(hint + this.random() * hint * RETRY_HINT_JITTER);
  }

  /** Called after a connection proved stable, so the next outage starts with short delays again. */
  reset(): void {
    this.failures = 0;
  }
}
