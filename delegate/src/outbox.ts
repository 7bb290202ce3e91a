import { create } from '@bufbuild/protobuf';
import { DelegateFrameSchema, TaskRefSchema, type DelegateFrame, type Result, type TaskRef } from '@attache/proto';

/** The registered connection the outbox writes to, as far as the outbox needs to know it. */
export interface OutboxLink {
  send(frame: DelegateFrame): Promise<void>;
  /** Resolves when the connection is over; a write still pending then will never be confirmed. */
  readonly ended: Promise<void>;
}

/**
 * Finished results not yet taken by a registered connection, oldest first. A result leaves only
 * once a connection's carrier has taken it; a write that fails (or is still pending when its
 * connection ends) leaves the result at the head, and the next `flush()` (after the next Welcome)
 * sends it again, in the original order. Results still here count as held: Hello and heartbeats
 * list them, so the control plane does not re-queue work whose result is about to arrive.
 */
export class Outbox {
  private readonly results: Result[] = [];
  private writing: Promise<void> = Promise.resolve();

  /**
   * @param link The connection to write to right now, or undefined while none is registered; read
   *   before every write, because connections come and go while a flush runs.
   * @param onDelivered Called after each result the carrier took (drain waits on it).
   */
  constructor(
    private readonly link: () => OutboxLink | undefined,
    private readonly onDelivered: () => void = () => undefined,
  ) {}

  get size(): number {
    return this.results.length;
  }

  /** The task attempts whose results wait here. */
  held(): TaskRef[] {
    return this.results.map((r) => create(TaskRefSchema, { taskId: r.taskId, attempt: r.attempt }));
  }

  /** Queues a result and starts sending. */
  add(result: Result): void {
    this.results.push(result);
    this.flush();
  }

  /** Sends queued results in order, one writer at a time; resolves when this flush has done what it can. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.drainTo());
    return this.writing;
  }

  private async drainTo(): Promise<void> {
    for (;;) {
      const link = this.link();
      const result = this.results[0];
      if (!link || !result) return;
      const frame = create(DelegateFrameSchema, { frame: { case: 'result', value: result } });
      const lost = link.ended.then(() => Promise.reject(new Error('connection lost during write')));
      try {
        await Promise.race([link.send(frame), lost]);
      } catch {
        // Kept at the head; the next Welcome triggers another flush.
        return;
      }
      this.results.shift();
      this.onDelivered();
    }
  }
}
