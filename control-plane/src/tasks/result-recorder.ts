import type { Logger } from 'pino';
import type { Result as ResultFrame } from '@attache/proto';
import type { DelegateSession, HeldTask } from '../delegates/session.js';
import { ErrorCode } from '../errors.js';
import type { Store, TaskOutcome, TaskRecord } from '../store/store.js';
import type { TaskLifecycle } from './lifecycle.js';
import { decodeResult, taskType } from './task-types.js';

/** Refills a session's freed slots (the dispatcher). */
export interface SlotFiller {
  pump(session: DelegateSession): void;
}

export interface ResultRecorderOptions {
  store: Pick<Store, 'completeTask'>;
  lifecycle: Pick<TaskLifecycle, 'ended' | 'running'>;
  slots: SlotFiller;
  log: Logger;
  /** First retry delay; doubled each time up to `maxRetryDelayMs`. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
}

/**
 * Records the Results delegates send, fenced by attempt. A Result the store cannot take yet (an
 * outage) is kept and retried with capped backoff for as long as this replica runs: the delegate
 * has let go of the task, so the result exists only here, and dropping the connection instead would
 * rerun the task.
 */
export class ResultRecorder {
  /** Retries not yet done; dropped at stop (their leases expire and the sweeper requeues them). */
  private readonly pending = new Set<NodeJS.Timeout>();
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;

  constructor(private readonly options: ResultRecorderOptions) {
    this.retryDelayMs = options.retryDelayMs ?? 250;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 5_000;
  }

  /** Results waiting for the store. */
  get retrying(): number {
    return this.pending.size;
  }

  stop(): void {
    if (this.pending.size > 0) this.options.log.warn({ results: this.pending.size }, 'stopping with results not yet recorded; their tasks will be requeued');
    for (const timer of this.pending) clearTimeout(timer);
    this.pending.clear();
  }

  async record(session: DelegateSession, frame: ResultFrame): Promise<void> {
    const held = session.held.get(frame.taskId);
    if (!held || held.attempt !== frame.attempt || held.resultPending) {
      // Released only when the attempts match: the result of a superseded attempt (the delegate was
      // given attempt 2 while attempt 1 still ran) must not release attempt 2, whose own result
      // would then be ignored and leave the task running until its run timeout.
      this.options.log.info({ taskId: frame.taskId, attempt: frame.attempt, delegateId: session.id }, 'ignored a result for an attempt this delegate does not hold');
      return;
    }
    const outcome = outcomeOf(held.type, frame);
    const endedAt = new Date();
    const startedAt = held.startedAt;
    const write = () => this.options.store.completeTask({ taskId: frame.taskId, attempt: frame.attempt, delegateId: session.id, outcome, now: endedAt, startedAt });
    let ended: TaskRecord | null;
    try {
      ended = await write();
    } catch (err) {
      // Keeps the slot while retrying: the delegate's capacity is still spoken for by this result.
      held.resultPending = true;
      this.options.log.warn({ err, taskId: frame.taskId, attempt: frame.attempt, delegateId: session.id }, 'could not record a result; retrying');
      this.retry(session, held, frame.taskId, frame.attempt, write, this.retryDelayMs);
      return;
    }
    session.release(frame.taskId);
    await this.recorded(session, held, frame.taskId, frame.attempt, ended);
  }

  private async recorded(session: DelegateSession, held: HeldTask, taskId: string, attempt: number, ended: TaskRecord | null): Promise<void> {
    try {
      // An attempt that ended before its running write was due is announced running now, before its
      // end, so every task's events read queued → running → its end.
      if (ended && held.accepted && held.startedAt && held.task && !held.runningAnnounced) {
        held.runningAnnounced = true;
        this.options.lifecycle.running({ ...held.task, state: 'running', startedAt: held.startedAt });
      }
      if (ended) await this.options.lifecycle.ended(ended);
      else this.options.log.info({ taskId, attempt }, 'dropped a result fenced by attempt or state');
    } finally {
      this.options.slots.pump(session);
    }
  }

  private retry(session: DelegateSession, held: HeldTask, taskId: string, attempt: number, write: () => Promise<TaskRecord | null>, delayMs: number): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer);
      write()
        .then(
          async (ended) => {
            if (session.holds(taskId, attempt)) session.release(taskId);
            this.options.log.info({ taskId, attempt, delegateId: session.id, recorded: ended !== null }, 'recorded a result after retrying');
            await this.recorded(session, held, taskId, attempt, ended);
          },
          () => this.retry(session, held, taskId, attempt, write, Math.min(delayMs * 2, this.maxRetryDelayMs)),
        )
        .catch((err: unknown) => this.options.log.error({ err, taskId }, 'finishing a retried result failed'));
    }, delayMs);
    timer.unref();
    this.pending.add(timer);
  }
}

/** The task's outcome as a Result frame reports it; a malformed one fails the task, never the connection. */
export function outcomeOf(type: string, frame: ResultFrame): TaskOutcome {
  if (frame.outcome.case === 'success') {
    try {
      return { state: 'succeeded', result: decodeResult(taskType(type), frame.outcome.value) };
    } catch (err) {
      return {
        state: 'failed',
        error: { code: ErrorCode.INTERNAL, message: `The delegate returned a malformed ${type} result: ${(err as Error).message}`, details: {} },
      };
    }
  }
  if (frame.outcome.case === 'error') {
    const e = frame.outcome.value;
    return {
      state: 'failed',
      error: { code: e.code || ErrorCode.INTERNAL, message: e.message, details: (e.details ?? {}) as Record<string, unknown> },
    };
  }
  return { state: 'failed', error: { code: ErrorCode.INTERNAL, message: 'The delegate returned a result with no outcome.', details: {} } };
}
