/**
 * Admission pacing for delegate handshakes. At most `maxInFlight` handshakes run at once on this
 * replica; one more is refused with a retry hint instead of being left to slow every other one down
 * (after a restart thousands of delegates arrive within seconds, and a handshake that waits behind
 * thousands of others on the event loop outlasts the delegate's Welcome timeout and starts over).
 *
 * The hint is a slot in a virtual queue: each refusal is given the next free slot, slots spaced by
 * how long a handshake takes divided by how many run at once, so the refused come back at about
 * the rate the replica completes handshakes, not all at the same moment.
 */
export interface HandshakePacerOptions {
  /** Handshakes admitted at once (ATTACHE_MAX_HANDSHAKES_IN_FLIGHT). */
  maxInFlight: number;
  /** Shortest hint: below this a refused delegate would only be refused again. Default 250 ms. */
  minRetryMs?: number;
  /**
   * Longest hint, whatever the queue. Default 10 s, the delegate's own backoff cap: pacing never
   * keeps a delegate away longer than an outage would, and a queue estimated too long (handshakes
   * slowed by slow clients rather than by this replica) costs a second refusal, not a long wait.
   */
  maxRetryMs?: number;
  /** Assumed handshake duration before one has been measured. Default 50 ms. */
  initialHandshakeMs?: number;
  now?: () => number;
}

/** An admitted handshake; `done()` (idempotent) frees its place when it ends, however it ends. */
export interface HandshakeTicket {
  readonly admitted: true;
  done(): void;
}

/** A refused handshake: the delegate should come back in about `retryAfterMs`. */
export interface HandshakeRefusal {
  readonly admitted: false;
  readonly retryAfterMs: number;
  readonly inFlight: number;
}

/** Weight of the newest sample in the moving average of handshake durations. */
const SMOOTHING = 0.05;

export class HandshakePacer {
  private readonly maxInFlight: number;
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly now: () => number;
  private running = 0;
  private averageMs: number;
  /** The last slot handed to a refused handshake (epoch ms). */
  private lastSlotAt = 0;
  private refusedTotal = 0;

  constructor(options: HandshakePacerOptions) {
    if (!(Number.isInteger(options.maxInFlight) && options.maxInFlight > 0)) throw new RangeError(`maxInFlight must be a positive integer (got ${options.maxInFlight})`);
    this.maxInFlight = options.maxInFlight;
    this.minRetryMs = options.minRetryMs ?? 250;
    this.maxRetryMs = options.maxRetryMs ?? 10_000;
    this.averageMs = options.initialHandshakeMs ?? 50;
    this.now = options.now ?? Date.now;
  }

  /** Handshakes running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Handshakes refused since start (a counter for metrics). */
  get refused(): number {
    return this.refusedTotal;
  }

  /** The moving average of how long an admitted handshake took, in ms. */
  get handshakeMs(): number {
    return this.averageMs;
  }

  admit(): HandshakeTicket | HandshakeRefusal {
    const now = this.now();
    if (this.running >= this.maxInFlight) return this.refuse(now);
    this.running++;
    let open = true;
    return {
      admitted: true,
      done: () => {
        if (!open) return;
        open = false;
        this.running--;
        this.averageMs += SMOOTHING * (Math.max(0, this.now() - now) - this.averageMs);
      },
    };
  }

  private refuse(now: number): HandshakeRefusal {
    this.refusedTotal++;
    const spacingMs = this.averageMs / this.maxInFlight;
    // A queue that has drained restarts at the shortest hint, not behind slots already past.
    const slot = Math.max(now + this.minRetryMs, this.lastSlotAt + spacingMs);
    this.lastSlotAt = Math.min(slot, now + this.maxRetryMs);
    return { admitted: false, retryAfterMs: Math.ceil(this.lastSlotAt - now), inFlight: this.running };
  }
}
