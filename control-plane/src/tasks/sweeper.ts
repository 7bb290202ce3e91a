import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import { ErrorCode } from '../errors.js';
import type { Store } from '../store/store.js';
import type { DelegateExplainer } from './explainer.js';
import type { TaskLifecycle } from './lifecycle.js';
import type { Requeue } from './requeue.js';

/** Whether a delegate connected to this replica still holds an attempt (the session registry). */
export interface LeaseHolders {
  holdsAttempt(delegateId: string, taskId: string, attempt: number): boolean;
}

/** Extra time a delegate gets past a run deadline to report TIMEOUT itself before we force it. */
const RUN_TIMEOUT_GRACE_MS = 5_000;
const BATCH = 200;

/**
 * Time-based transitions: expired leases (a replica or delegate that vanished without a clean close),
 * queue timeouts and run timeouts. These are deadlines, not dispatch: matching work to delegates is
 * event-driven in the Dispatcher, and this pass only catches what no event will report.
 */
export interface SweeperOptions {
  store: Store;
  bus: Pick<Bus, 'publish'>;
  holders: LeaseHolders;
  requeue: Requeue;
  lifecycle: Pick<TaskLifecycle, 'ended'>;
  explainer: Pick<DelegateExplainer, 'explain' | 'advice'>;
  intervalMs: number;
  log: Logger;
}

export class Sweeper {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly options: SweeperOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.sweep(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async sweep(now = new Date()): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.expiredLeases(now);
      await this.queueTimeouts(now);
      await this.runTimeouts(now);
    } catch (err) {
      this.options.log.error({ err }, 'sweep failed');
    } finally {
      this.running = false;
    }
  }

  private async expiredLeases(now: Date): Promise<void> {
    for (const task of await this.options.store.listExpiredLeases(now, BATCH)) {
      // Alive here: its next heartbeat extends the lease.
      if (task.delegateId && this.options.holders.holdsAttempt(task.delegateId, task.id, task.attempt)) continue;
      await this.options.requeue.requeue(task, 'lease expired (delegate or replica stopped answering)');
    }
  }

  private async queueTimeouts(now: Date): Promise<void> {
    for (const task of await this.options.store.listQueueTimedOut(now, BATCH)) {
      const ineligible = await this.options.explainer.explain(task.tenantId, task);
      const ended = await this.options.store.finishTask({
        tenantId: task.tenantId,
        taskId: task.id,
        fromStates: ['queued'],
        state: 'expired',
        error: {
          code: ErrorCode.NO_ELIGIBLE_DELEGATE,
          message: `No eligible delegate took this task within its queue timeout of ${task.queueTimeoutSeconds} s. ${this.options.explainer.advice(ineligible)}`,
          details: { selectors: task.selectors, type: task.type, delegates: ineligible },
        },
        now,
      });
      if (ended) await this.options.lifecycle.ended(ended);
    }
  }

  private async runTimeouts(now: Date): Promise<void> {
    for (const task of await this.options.store.listRunTimedOut(new Date(now.getTime() - RUN_TIMEOUT_GRACE_MS), BATCH)) {
      const ended = await this.options.store.finishTask({
        tenantId: task.tenantId,
        taskId: task.id,
        fromStates: ['assigned', 'running'],
        state: 'failed',
        error: {
          code: ErrorCode.TIMEOUT,
          message: `The task did not finish within its run timeout of ${task.runTimeoutSeconds} s; raise runTimeoutSeconds or check the delegate.`,
          details: { runTimeoutSeconds: task.runTimeoutSeconds },
        },
        now,
        attempt: task.attempt,
      });
      if (!ended) continue;
      if (task.delegateId) {
        await this.options.bus.publish('task.cancel', {
          tenantId: task.tenantId,
          taskId: task.id,
          attempt: task.attempt,
          delegateId: task.delegateId,
          reason: 'run timeout',
        });
      }
      await this.options.lifecycle.ended(ended);
    }
  }
}
