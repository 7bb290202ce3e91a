import type { Socket } from 'node:net';

/**
 * Hands accepted TCP connections to their server a few at a time, one batch per turn of the event
 * loop.
 *
 * Why: under a reconnect storm thousands of delegates connect within a second. Handed over at
 * once, every one of them starts its HTTP/2 preface and settings exchange in the same poll phase;
 * libuv then keeps polling (it re-polls while a poll returns a full set of ready descriptors), so
 * the check phase, where Node flushes HTTP/2 output and our group commits run, waits for seconds.
 * Welcome frames sit unsent until the delegates' Welcome timeout gives up on them. Sockets wait
 * here paused (the listener is created with `pauseOnConnect`), which keeps them out of the poll set
 * until their turn; the kernel holds what they send meanwhile.
 *
 * Measured (bench/analysis.md, "10,000 delegates"): on a 2-core machine the queue's own wait stays
 * under a millisecond and the reconnect time moved within run-to-run noise for 16, 64 and 256 per
 * turn; it is kept because it bounds the work a storm can start before any token is checked.
 */
export interface AcceptQueueOptions {
  /** Sockets handed over per turn. */
  perTurn?: number | undefined;
  /** Sockets held waiting at most; a connection beyond that is closed (the client reconnects). */
  maxWaiting?: number | undefined;
  /** Schedules the next turn; setImmediate by default (a seam for tests). */
  schedule?: (turn: () => void) => void;
}

export const DEFAULT_ACCEPT_PER_TURN = 64;
export const DEFAULT_ACCEPT_MAX_WAITING = 20_000;

export class AcceptQueue {
  private readonly waiting: Socket[] = [];
  /** Index of the next socket to hand over; the array is compacted when a turn ends. */
  private head = 0;
  private scheduled = false;
  private readonly perTurn: number;
  private readonly maxWaiting: number;
  private readonly schedule: (turn: () => void) => void;
  private refused = 0;

  constructor(
    private readonly handOver: (socket: Socket) => void,
    options: AcceptQueueOptions = {},
  ) {
    this.perTurn = options.perTurn ?? DEFAULT_ACCEPT_PER_TURN;
    this.maxWaiting = options.maxWaiting ?? DEFAULT_ACCEPT_MAX_WAITING;
    if (!Number.isInteger(this.perTurn) || this.perTurn < 1) throw new RangeError(`perTurn must be a whole number ≥ 1, got ${this.perTurn}`);
    if (!Number.isInteger(this.maxWaiting) || this.maxWaiting < 1) throw new RangeError(`maxWaiting must be a whole number ≥ 1, got ${this.maxWaiting}`);
    this.schedule = options.schedule ?? ((turn) => setImmediate(turn));
  }

  /** A connection just accepted, still paused. */
  push(socket: Socket): void {
    if (this.length >= this.maxWaiting) {
      this.refused += 1;
      socket.destroy();
      return;
    }
    this.waiting.push(socket);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.turn());
    }
  }

  /** Sockets waiting for their turn. */
  get length(): number {
    return this.waiting.length - this.head;
  }

  /** Connections closed because the queue was full, since start. */
  get refusedTotal(): number {
    return this.refused;
  }

  /** Closes every socket still waiting (the server is stopping). */
  clear(): void {
    for (let i = this.head; i < this.waiting.length; i++) this.waiting[i]!.destroy();
    this.waiting.length = 0;
    this.head = 0;
  }

  private turn(): void {
    this.scheduled = false;
    let handed = 0;
    while (handed < this.perTurn && this.head < this.waiting.length) {
      const socket = this.waiting[this.head]!;
      this.head += 1;
      // A client that gave up while it waited: nothing to serve.
      if (socket.destroyed) continue;
      handed += 1;
      socket.resume();
      this.handOver(socket);
    }
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    } else if (this.head > 1_024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
    if (this.length > 0) {
      this.scheduled = true;
      this.schedule(() => this.turn());
    }
  }
}
