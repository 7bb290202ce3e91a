import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Metrics } from '../metrics.js';
import type { Store, TaskRecord } from '../store/store.js';

/** Who follows transitions for the tenant's clients (events/event-publisher.ts); never blocks a transition. */
export interface TransitionObserver {
  taskChanged(task: TaskRecord): void;
  accountValidated(task: TaskRecord): void;
}

/** This replica's dispatcher: places a queued task on a local delegate if one can take it now. */
export interface LocalPlacement {
  /** True when the task is settled here (placed, or no longer queued); false to announce it to every replica. */
  placeHere(task: TaskRecord): Promise<boolean>;
}

/**
 * What happens when a task reaches a terminal state, whoever ended it (a result, a cancel, a
 * timeout, a lost delegate). Exactly one caller wins the store's fenced update, and only that caller
 * calls `ended`, so each of these effects happens once per task.
 */
export class TaskLifecycle {
  private readonly endListeners: Array<(task: TaskRecord) => Promise<void>> = [];
  private observer: TransitionObserver | null = null;
  private placement: LocalPlacement | null = null;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly metrics: Metrics,
    private readonly log: Logger,
  ) {}

  /**
   * Adds an effect of a task's end owned elsewhere (e.g. learning a delegate group's identity), so
   * this class need not know every consumer. A failing listener is logged; it never blocks the end.
   */
  onEnded(listener: (task: TaskRecord) => Promise<void>): void {
    this.endListeners.push(listener);
  }

  /** The local dispatcher, asked first about every task that enters the queue (see queued). */
  placeWith(placement: LocalPlacement): void {
    this.placement = placement;
  }

  /** One observer of every state a task enters (queued, running, each end). */
  observe(observer: TransitionObserver): void {
    this.observer = observer;
  }

  async ended(task: TaskRecord): Promise<void> {
    this.metrics.taskEnded(task);
    this.observer?.taskChanged(task);
    this.log.info(
      { taskId: task.id, tenantId: task.tenantId, type: task.type, state: task.state, attempt: task.attempt, code: task.error?.code },
      'task ended',
    );
    if (task.accountId) {
      await this.recordAccountValidation(task);
    }
    for (const listener of this.endListeners) {
      await listener(task).catch((err: unknown) => this.log.error({ err, taskId: task.id }, 'a task end listener failed'));
    }
    await this.bus.publish('task.ended', { tenantId: task.tenantId, taskId: task.id, state: task.state });
  }

  /**
   * A task entered the queue (new or requeued). This replica's dispatcher tries it first; only a
   * task none of its delegates can take now is announced on the bus (task.queued), so with several
   * replicas one of them places a task instead of every replica racing for it. The placement runs
   * after this returns: a create answers without waiting for it.
   */
  async queued(task: TaskRecord): Promise<void> {
    this.observer?.taskChanged(task);
    if (!this.placement) return this.announce(task);
    void this.placement
      .placeHere(task)
      .catch(() => false)
      .then((settled) => (settled ? undefined : this.announce(task)))
      // The bus only wakes replicas up: a lost announcement costs latency (freed slots and new
      // connections pull from the queue), never the task.
      .catch((err: unknown) => this.log.warn({ err, taskId: task.id }, 'could not announce a queued task to the other replicas'));
  }

  private announce(task: TaskRecord): Promise<void> {
    return this.bus.publish('task.queued', { tenantId: task.tenantId, taskId: task.id, type: task.type, selectors: task.selectors });
  }

  /** Many tasks of one tenant entered the queue together: one wake-up for all of them. */
  async queuedMany(tenantId: string, tasks: readonly TaskRecord[]): Promise<void> {
    if (tasks.length === 0) return;
    for (const task of tasks) this.observer?.taskChanged(task);
    await this.bus.publish('tasks.queued', { tenantId, count: tasks.length });
  }

  /** The delegate accepted the attempt (assigned → running); the store has recorded it. */
  running(task: TaskRecord): void {
    this.observer?.taskChanged(task);
  }

  private async recordAccountValidation(task: TaskRecord): Promise<void> {
    if (task.type !== 'aws.validate' || !task.accountId) return;
    const ok = task.state === 'succeeded';
    try {
      await this.store.recordValidation(task.tenantId, task.accountId, task.id, {
        status: ok ? 'valid' : 'invalid',
        checkedAt: task.endedAt ?? new Date(),
        awsAccountId: ok ? String(task.result?.['accountId'] ?? '') || null : null,
        arn: ok ? String(task.result?.['arn'] ?? '') || null : null,
        error: ok ? null : task.error,
      });
      this.observer?.accountValidated(task);
    } catch (err) {
      this.log.error({ err, taskId: task.id, accountId: task.accountId }, 'failed to record the validation outcome on the account');
    }
  }
}
