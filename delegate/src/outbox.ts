import { create } from '@bufbuild/protobuf';
import {
  BATCH_LIMITS,
  DelegateFrameSchema,
  resultBytes,
  splitBatches,
  TaskRefSchema,
  type DelegateFrame,
  type Result,
  type TaskRef,
} from '@attache/proto';

/** The registered connection the outbox writes to, as far as the outbox needs to know it. */
export interface OutboxLink {
  send(frame: DelegateFrame): Promise<void>;
  /** Resolves when the connection is over; a write still pending then will never be confirmed. */
  readonly ended: Promise<void>;
  /**
   * Items the control plane takes in one DelegateBatch frame, as its Welcome said (capped by this
   * delegate's own limit); 1 or less: one Accepted or Result frame each, as before batches.
   */
  readonly batchItems: number;
}

/** An item of a batch before it is a message: `acceptedResult` is an Accepted folded into its Result. */
type Item = { case: 'accepted'; value: AttemptRef } | { case: 'result'; value: Result } | { case: 'acceptedResult'; value: Result };

interface AttemptRef {
  taskId: string;
  attempt: number;
}

/** An Accepted item is a task id and an attempt; counted like a result without an outcome. */
const itemBytes = (item: Item) => resultBytes(item.case === 'accepted' ? { taskId: item.value.taskId, outcome: { case: undefined } } : item.value);

/**
 * What the delegate tells the control plane about its tasks: Accepted and Result. Finished results
 * wait here, oldest first, until a registered connection's carrier has taken them; a write that
 * fails (or is still pending when its connection ends) leaves the result at the head, and the next
 * `flush()` (after the next Welcome) sends it again, in the original order. Results still here
 * count as held: Hello and heartbeats list them, so the control plane does not re-queue work whose
 * result is about to arrive.
 *
 * To a control plane that takes batches, what is ready in one event-loop turn (and whatever piles up
 * while a write is pending) leaves in one DelegateBatch frame, and an Accepted whose Result is ready
 * by then is folded into it. Otherwise an Accepted goes out at once and results one frame each.
 */
export class Outbox {
  private readonly results: Result[] = [];
  /** Accepted items waiting for the next batch, by task, with the connection they were meant for. */
  private readonly accepts = new Map<string, { ref: AttemptRef; link: OutboxLink }>();
  private writing: Promise<void> = Promise.resolve();
  private scheduled = false;

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

  /**
   * The delegate took an assignment that arrived on `link`. An Accepted is meaningful on that
   * connection only: one not yet written when the connection changes is dropped (the next Hello lists
   * the task as in flight instead).
   */
  accepted(link: OutboxLink, taskId: string, attempt: number): void {
    const ref = { taskId, attempt };
    if (link.batchItems > 1) {
      this.accepts.set(taskId, { ref, link });
      this.schedule();
      return;
    }
    // Fire and forget, as for any frame: a lost connection is noticed by the session loop.
    link.send(create(DelegateFrameSchema, { frame: { case: 'accepted', value: ref } })).catch(() => undefined);
  }

  /** Queues a result and starts sending (at the end of this turn when the control plane takes batches). */
  add(result: Result): void {
    this.results.push(result);
    if ((this.link()?.batchItems ?? 0) > 1) this.schedule();
    else void this.flush();
  }

  /** Sends what waits, in order, one writer at a time; resolves when this flush has done what it can. */
  flush(): Promise<void> {
    this.writing = this.writing.then(() => this.drainTo());
    return this.writing;
  }

  /** One flush after everything this turn produces is queued. */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async drainTo(): Promise<void> {
    for (;;) {
      const link = this.link();
      for (const [taskId, pending] of this.accepts) if (pending.link !== link) this.accepts.delete(taskId);
      if (!link) return;
      const items = this.nextItems(link);
      if (items.length === 0) return;
      const lost = link.ended.then(() => Promise.reject(new Error('connection lost during write')));
      try {
        for (const frame of framesOf(items)) await Promise.race([link.send(frame), lost]);
      } catch {
        // Results are kept at the head; the next Welcome triggers another flush.
        return;
      }
      for (const item of items) {
        if (item.case !== 'result') this.accepts.delete(item.value.taskId);
        if (item.case === 'accepted') continue;
        this.results.shift();
        this.onDelivered();
      }
    }
  }

  /**
   * The items of the next frame: Accepteds not folded, then results from the head (each folded with
   * its Accepted when that is still waiting), within the control plane's count and the byte budget.
   * A result never precedes its own Accepted: all Accepteds come first, and a folded pair is one item.
   */
  private nextItems(link: OutboxLink): Item[] {
    if (!(link.batchItems > 1)) {
      const head = this.results[0];
      return head ? [{ case: 'result', value: head }] : [];
    }
    const finished = new Set(this.results.map((r) => `${r.taskId}/${r.attempt}`));
    const items: Item[] = [];
    for (const { ref } of this.accepts.values()) if (!finished.has(`${ref.taskId}/${ref.attempt}`)) items.push({ case: 'accepted', value: ref });
    for (const result of this.results) {
      const accept = this.accepts.get(result.taskId);
      items.push(accept && accept.ref.attempt === result.attempt ? { case: 'acceptedResult', value: result } : { case: 'result', value: result });
    }
    return splitBatches(items, link.batchItems, itemBytes)[0] ?? [];
  }
}

/**
 * The frames for one batch's items: one DelegateBatch, or the plain frame for an item alone (a
 * folded pair alone stays a batch of one unless it is too large for a batch, then it is the two
 * plain frames).
 */
function framesOf(items: Item[]): DelegateFrame[] {
  const only = items.length === 1 ? items[0]! : undefined;
  if (only?.case === 'accepted') return [create(DelegateFrameSchema, { frame: { case: 'accepted', value: only.value } })];
  if (only?.case === 'result') return [create(DelegateFrameSchema, { frame: { case: 'result', value: only.value } })];
  if (only?.case === 'acceptedResult' && itemBytes(only) > BATCH_LIMITS.maxBytes) {
    const { taskId, attempt } = only.value;
    return [
      create(DelegateFrameSchema, { frame: { case: 'accepted', value: { taskId, attempt } } }),
      create(DelegateFrameSchema, { frame: { case: 'result', value: only.value } }),
    ];
  }
  return [create(DelegateFrameSchema, { frame: { case: 'batch', value: { items: items.map((item) => ({ item })) } } })];
}
