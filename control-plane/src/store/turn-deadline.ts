/**
 * How long work gathered "until the end of this event-loop turn" may wait for that end.
 *
 * The group commits (sqlite/group-commit.ts, postgres/turn-batch.ts) gather a turn's writes and run
 * them from `setImmediate`, which Node runs in libuv's check phase, after the poll phase. Under a storm
 * of I/O that phase does not end: while epoll keeps answering full batches (1,024 ready sockets),
 * libuv polls again, up to 48 times, before it moves on. Ten thousand gRPC delegates reconnecting to
 * one replica kept it there for about 16 s: no write committed, so every handshake waited on its
 * presence row, every slot stayed taken, and the only work left was refusing the rest (bench
 * connections section, bench/analysis.md). So a gathered batch also runs at the end of the first
 * callback that adds to it once it has been open `maxDelayMs`, from a microtask, which Node runs
 * after every callback of the poll phase.
 *
 * In a short turn nothing changes: the batch runs at the end of the turn as before.
 */
export const DEFAULT_TURN_DEADLINE_MS = 5;

export class TurnDeadline {
  private openedAt = 0;
  private early = false;

  constructor(
    private readonly maxDelayMs = DEFAULT_TURN_DEADLINE_MS,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(maxDelayMs >= 0)) throw new RangeError(`maxDelayMs must be zero or more (got ${maxDelayMs})`);
  }

  /** A batch opened now; its end of turn is scheduled by the caller. */
  opened(): void {
    this.openedAt = this.now();
    this.early = false;
  }

  /**
   * True once per batch, when an addition finds it open `maxDelayMs` or longer: the caller then
   * runs it from a microtask instead of waiting for the turn to end.
   */
  overdue(): boolean {
    if (this.early || this.now() - this.openedAt < this.maxDelayMs) return false;
    this.early = true;
    return true;
  }
}
