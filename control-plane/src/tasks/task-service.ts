import type { ActorRecord } from '../store/audit-records.js';
import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config.js';
import { AppError, ErrorCode, notFound } from '../errors.js';
import { newId } from '../ids.js';
import type { Metrics } from '../metrics.js';
import { isTerminal, type ListTasksQuery, type Store, type TaskRecord } from '../store/store.js';
import { keySelectors } from '../security/sealed-refs.js';
import { normaliseTags } from './eligibility.js';
import type { DelegateExplainer } from './explainer.js';
import type { TaskLifecycle } from './lifecycle.js';
import type { TaskQuota } from './quota.js';
import { normalisePayload, taskType } from './task-types.js';
import type { TaskWaiters } from './waiters.js';

export interface NewTask {
  type: string;
  payload: Record<string, unknown>;
  selectors: string[];
  priority?: number | undefined;
  queueTimeoutSeconds?: number | undefined;
  runTimeoutSeconds?: number | undefined;
  accountId?: string | undefined;
}

type Defaults = Pick<Config, 'maxAttempts' | 'defaultQueueTimeoutSeconds' | 'defaultRunTimeoutSeconds'>;

/** Creating, reading, waiting for and cancelling tasks: what the API and account service call. */
export class TaskService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly lifecycle: TaskLifecycle,
    private readonly explainer: DelegateExplainer,
    private readonly waiters: TaskWaiters,
    private readonly metrics: Metrics,
    private readonly quota: TaskQuota,
    private readonly defaults: Defaults,
    private readonly log: Logger,
  ) {}

  /**
   * Queues a task. When no connected delegate of the tenant could ever take it (tags, task type),
   * it fails at once with NO_ELIGIBLE_DELEGATE instead of waiting out its queue timeout.
   */
  async create(
    tenantId: string,
    input: NewTask,
    options: { internal?: boolean; beforeInsert?: (task: TaskRecord) => Promise<void>; requestedBy?: ActorRecord } = {},
  ): Promise<TaskRecord> {
    const task = this.draft(tenantId, input, options);
    // Before anything is written (beforeInsert marks an account as validating).
    await this.quota.check(tenantId, task.payload);
    await options.beforeInsert?.(task);
    await this.failUnplaceable([task]);
    await this.store.insertTask(task);
    await this.announce(tenantId, [task]);
    return task;
  }

  /**
   * Queues many tasks in one store transaction. Each item is checked as `create` checks one (type,
   * payload, quota counting the items before it); an item given as an error (it did not parse)
   * stays that error. Without `atomic` the items that pass are created and the others answer their
   * error; with `atomic` nothing is created unless every item passes.
   */
  async createMany(
    tenantId: string,
    items: ReadonlyArray<NewTask | AppError>,
    options: { atomic?: boolean; requestedBy?: ActorRecord } = {},
  ): Promise<Array<TaskRecord | AppError>> {
    const now = new Date();
    const results: Array<TaskRecord | AppError> = items.map((item) => {
      if (item instanceof AppError) return item;
      try {
        return this.draft(tenantId, item, { ...(options.requestedBy ? { requestedBy: options.requestedBy } : {}) }, now);
      } catch (err) {
        if (err instanceof AppError) return err;
        throw err;
      }
    });
    const refused = await this.quota.checkMany(tenantId, results.map((r) => (r instanceof AppError ? null : r.payload)));
    refused.forEach((err, i) => {
      if (err) results[i] = err;
    });
    const tasks = results.filter((r): r is TaskRecord => !(r instanceof AppError));
    if (tasks.length === 0 || (options.atomic && tasks.length < results.length)) return results;
    await this.failUnplaceable(tasks);
    await this.store.createTasks(tasks);
    await this.announce(tenantId, tasks);
    return results;
  }

  /** The task as it will be stored, from validated input; throws what the caller must answer. */
  private draft(tenantId: string, input: NewTask, options: { internal?: boolean; requestedBy?: ActorRecord }, now = new Date()): TaskRecord {
    const type = taskType(input.type);
    if (!type.creatableByApi && !options.internal) {
      throw new AppError(
        ErrorCode.VALIDATION_FAILED,
        `Tasks of type "${type.name}" are created from a stored account (POST /v1/aws/accounts/{id}/validate), not directly.`,
        { field: 'type' },
      );
    }
    const payload = normalisePayload(type, input.payload);
    // Sealed values open only where their group key is: the key is a routing constraint like any tag,
    // derived here from the payload itself so no caller (API or account) can leave it out.
    const selectors = normaliseTags([...input.selectors, ...keySelectors(payload)]);
    return {
      id: newId('tsk'),
      tenantId,
      type: type.name,
      payload,
      selectors,
      priority: input.priority ?? 0,
      state: 'queued',
      attempt: 1,
      maxAttempts: this.defaults.maxAttempts,
      delegateId: null,
      queueTimeoutSeconds: input.queueTimeoutSeconds ?? this.defaults.defaultQueueTimeoutSeconds,
      runTimeoutSeconds: input.runTimeoutSeconds ?? this.defaults.defaultRunTimeoutSeconds,
      result: null,
      error: null,
      accountId: input.accountId ?? null,
      requestedBy: options.requestedBy ?? null,
      createdAt: now,
      queuedAt: now,
      assignedAt: null,
      startedAt: null,
      endedAt: null,
      leaseExpiresAt: null,
    };
  }

  /** Marks failed, before they are stored, the tasks no connected delegate could ever take (asked once per type and selectors). */
  private async failUnplaceable(tasks: readonly TaskRecord[]): Promise<void> {
    const verdicts = new Map<string, Awaited<ReturnType<DelegateExplainer['anyCouldTake']>>>();
    for (const task of tasks) {
      const key = `${task.type}\u0000${task.selectors.join(',')}`;
      let verdict = verdicts.get(key);
      if (!verdict) verdicts.set(key, (verdict = await this.explainer.anyCouldTake(task.tenantId, { type: task.type, selectors: task.selectors })));
      if (verdict.possible) continue;
      task.state = 'failed';
      task.endedAt = task.createdAt;
      task.error = {
        code: ErrorCode.NO_ELIGIBLE_DELEGATE,
        message: `No connected delegate can run this task (type "${task.type}", selectors [${task.selectors.join(', ')}]). ${this.explainer.advice(verdict.ineligible)}`,
        details: { selectors: task.selectors, type: task.type, delegates: verdict.ineligible },
      };
    }
  }

  /**
   * After the insert: a failed task ends (waiters, audit, events), a queued one is offered to
   * delegates — one by itself is placed on the least-loaded eligible delegate, several (a batch) wake
   * the tenant's delegates once, and each idle one claims several at once.
   */
  private async announce(tenantId: string, tasks: readonly TaskRecord[]): Promise<void> {
    for (const task of tasks) {
      this.metrics.taskCreated(task);
      if (task.state === 'failed') await this.lifecycle.ended(task);
    }
    const queued = tasks.filter((t) => t.state === 'queued');
    if (queued.length === 1) await this.lifecycle.queued(queued[0]!);
    else await this.lifecycle.queuedMany(tenantId, queued);
  }

  async get(tenantId: string, id: string): Promise<TaskRecord> {
    const task = await this.store.getTask(tenantId, id);
    if (!task) throw notFound('task', id);
    return task;
  }

  /**
   * The task once it has ended, or as it is after `waitSeconds`. `known` is the task as the caller
   * already has it (just created), which saves the first read.
   */
  async getAfterWait(tenantId: string, id: string, waitSeconds: number, known?: TaskRecord): Promise<TaskRecord> {
    let task = known ?? (await this.get(tenantId, id));
    if (waitSeconds <= 0 || isTerminal(task.state)) return task;
    const ended = await this.waiters.wait(id, waitSeconds * 1000, async () => {
      task = await this.get(tenantId, id);
      return isTerminal(task.state);
    });
    if (ended && ended.tenantId === tenantId) return ended;
    return isTerminal(task.state) ? task : this.get(tenantId, id);
  }

  list(tenantId: string, query: ListTasksQuery): Promise<TaskRecord[]> {
    return this.store.listTasks(tenantId, query);
  }

  /** Cancels a task that has not ended; a running attempt is told to stop on its delegate. */
  async cancel(tenantId: string, id: string, reason = 'cancelled by request'): Promise<TaskRecord> {
    const before = await this.get(tenantId, id);
    if (isTerminal(before.state)) {
      throw new AppError(ErrorCode.CONFLICT, `Task ${id} already ended (${before.state}); there is nothing to cancel.`, { state: before.state });
    }
    const ended = await this.store.finishTask({
      tenantId,
      taskId: id,
      fromStates: ['queued', 'assigned', 'running'],
      state: 'cancelled',
      error: { code: ErrorCode.CANCELLED, message: `The task was cancelled: ${reason}.`, details: {} },
      now: new Date(),
    });
    if (!ended) {
      const now = await this.get(tenantId, id);
      throw new AppError(ErrorCode.CONFLICT, `Task ${id} ended (${now.state}) before it could be cancelled.`, { state: now.state });
    }
    if (ended.delegateId) {
      await this.bus.publish('task.cancel', { tenantId, taskId: id, attempt: ended.attempt, delegateId: ended.delegateId, reason });
    }
    await this.lifecycle.ended(ended);
    this.log.info({ taskId: id, tenantId }, 'task cancelled');
    return ended;
  }
}
