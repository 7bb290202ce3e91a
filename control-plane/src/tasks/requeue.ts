import type { Logger } from 'pino';
import { ErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store, TaskError, TaskRecord } from '../store/store.js';
import type { TaskLifecycle } from './lifecycle.js';

const lostError = (reason: string): TaskError => ({
  code: ErrorCode.DELEGATE_LOST,
  message: `The delegate running this task was lost (${reason}) and the task used all its attempts. Check the delegates' health and logs.`,
  details: { reason },
});

/**
 * Gives up an attempt whose delegate lost it (disconnect, ack timeout, lost result, expired lease):
 * the task is queued again as a new attempt, or fails with DELEGATE_LOST once its attempts are used.
 * Fenced by attempt in the store, so two replicas requeueing the same attempt requeue it once.
 */
export class Requeuer {
  constructor(
    private readonly store: Pick<Store, 'requeueTask'>,
    private readonly lifecycle: Pick<TaskLifecycle, 'queued' | 'ended'>,
    private readonly metrics: Pick<Metrics, 'taskRequeued'>,
    private readonly log: Logger,
  ) {}

  async requeue(task: TaskRecord, reason: string): Promise<void> {
    const updated = await this.store.requeueTask({ taskId: task.id, attempt: task.attempt, now: new Date(), exhaustedError: lostError(reason) });
    if (!updated) return;
    this.log.warn({ taskId: task.id, attempt: task.attempt, delegateId: task.delegateId, reason, state: updated.state }, 'task attempt lost');
    if (updated.state === 'queued') {
      this.metrics.taskRequeued(updated);
      await this.lifecycle.queued(updated);
    } else {
      await this.lifecycle.ended(updated);
    }
  }
}

/** What parts that give up attempts need. */
export type Requeue = Pick<Requeuer, 'requeue'>;
