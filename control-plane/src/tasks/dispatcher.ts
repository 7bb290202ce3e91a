import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config.js';
import type { AssignInit, DelegateSession } from '../delegates/session.js';
import { ErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store, TaskRecord } from '../store/store.js';
import { matches } from './eligibility.js';
import type { TaskLifecycle } from './lifecycle.js';
import type { Requeue } from './requeue.js';
import { encodePayload, taskType } from './task-types.js';

/** Tasks one claim of a pump takes at most. */
const MAX_CLAIM = 16;

type Timing = Pick<Config, 'ackTimeoutMs' | 'heartbeatTimeoutMs'> & Partial<Pick<Config, 'runningWriteDelayMs'>>;

/** This replica's sessions of a tenant (the session registry). */
export interface LocalSessions {
  local(tenantId: string): DelegateSession[];
}

export interface DispatcherOptions {
  store: Pick<Store, 'claimTask' | 'claimQueued' | 'markRunning' | 'completeTask' | 'getTask'>;
  bus: Pick<Bus, 'subscribe'>;
  sessions: LocalSessions;
  requeue: Requeue;
  lifecycle: Pick<TaskLifecycle, 'ended' | 'running'>;
  metrics: Pick<Metrics, 'taskAssigned' | 'assignFramesSent'>;
  timing: Timing;
  log: Logger;
}

/**
 * Matches queued tasks with the delegates connected to this replica, and sees each assignment
 * through to Accepted. Event-driven: a queued task, a freed slot and a new connection each trigger a
 * match; nothing polls. The store's fenced claims make every match safe against other replicas and
 * against races between events here.
 */
export class Dispatcher {
  /** Sessions with a pump running, and whether another pass was asked for meanwhile. */
  private readonly pumping = new Map<string, boolean>();
  private readonly unsubscribe: Array<() => void> = [];

  /**
   * How long an accepted attempt runs before `running` is written. A task that ends sooner is
   * written once, at its end (with the time it started): `running` is not a durable fact on its own —
   * after a crash the attempt is assigned either way, its lease (the ack timeout) expires and it is
   * requeued. At most a quarter of the ack timeout, so the lease never runs out before the write.
   */
  private readonly runningWriteDelayMs: number;

  constructor(private readonly options: DispatcherOptions) {
    this.runningWriteDelayMs = Math.min(options.timing.runningWriteDelayMs ?? 0, Math.floor(options.timing.ackTimeoutMs / 4));
  }

  start(): void {
    this.unsubscribe.push(this.options.bus.subscribe('task.queued', (m) => void this.place(m.tenantId, m.taskId, m.type, m.selectors)));
    this.unsubscribe.push(this.options.bus.subscribe('tasks.queued', (m) => this.fill(m.tenantId)));
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /**
   * A task entered the queue: offer it to the least-loaded eligible local delegate. True when it
   * is settled here (claimed by one of them, or no longer queued); false when no local delegate
   * could take it, so the other replicas should hear of it (TaskLifecycle.queued).
   */
  async place(tenantId: string, taskId: string, type: string, selectors: readonly string[]): Promise<boolean> {
    const { store, timing, log } = this.options;
    const candidates = this.options.sessions
      .local(tenantId)
      .filter((s) => s.free > 0 && matches(s.identity, { type, selectors }))
      .sort((a, b) => a.load - b.load);
    for (const session of candidates) {
      if (!session.reserve()) continue;
      const now = new Date();
      let claimed: TaskRecord | null;
      try {
        claimed = await store.claimTask({ taskId, delegate: session.claimant(), now, leaseExpiresAt: new Date(now.getTime() + timing.ackTimeoutMs) });
      } catch (err) {
        // A wake-up, not state: the task stays queued for the next freed slot, connection or requeue.
        log.warn({ err, taskId }, 'claiming a queued task failed');
        return false;
      } finally {
        session.unreserve();
      }
      // assign() holds the slot in the same turn as unreserve() freed it, so nothing slips in between.
      if (claimed) this.assign(session, [claimed]);
      // Not claimed: another replica or event took it, or it is no longer queued.
      return true;
    }
    return false;
  }

  /** TaskLifecycle's LocalPlacement: this replica's delegates first. */
  placeHere(task: TaskRecord): Promise<boolean> {
    return this.place(task.tenantId, task.id, task.type, task.selectors);
  }

  /** Many tasks entered the queue at once (a batch): every local delegate of the tenant with room fills its slots. */
  fill(tenantId: string): void {
    for (const session of this.options.sessions.local(tenantId).filter((s) => s.free > 0).sort((a, b) => a.load - b.load)) this.pump(session);
  }

  /** Fills a delegate's free slots from the queue. Re-entrant calls collapse into one more pass. */
  pump(session: DelegateSession): void {
    if (this.pumping.has(session.id)) {
      this.pumping.set(session.id, true);
      return;
    }
    this.pumping.set(session.id, false);
    void this.pumpLoop(session).finally(() => {
      const again = this.pumping.get(session.id);
      this.pumping.delete(session.id);
      if (again && !session.closed) this.pump(session);
    });
  }

  private async pumpLoop(session: DelegateSession): Promise<void> {
    const { store, timing } = this.options;
    try {
      for (;;) {
        if (session.closed) return;
        // Several free slots in one claim; a bounded number, so the delegates of a tenant take turns.
        const slots = session.reserveUpTo(MAX_CLAIM);
        if (slots === 0) return;
        const now = new Date();
        let tasks: TaskRecord[];
        try {
          tasks = await store.claimQueued({ delegate: session.claimant(), now, leaseExpiresAt: new Date(now.getTime() + timing.ackTimeoutMs) }, slots);
        } finally {
          session.unreserve(slots);
        }
        // One claim's tasks go out together: one AssignBatch frame when the delegate takes batches.
        this.assign(session, tasks);
        if (tasks.length < slots) return;
      }
    } catch (err) {
      this.options.log.error({ err, delegateId: session.id }, 'claiming work for a delegate failed');
    }
  }

  private assign(session: DelegateSession, tasks: readonly TaskRecord[]): void {
    const held: TaskRecord[] = [];
    const assigns: AssignInit[] = [];
    for (const task of tasks) {
      if (session.closed) {
        void this.options.requeue.requeue(task, 'delegate disconnected during assignment');
        continue;
      }
      let payload: Uint8Array;
      try {
        payload = encodePayload(taskType(task.type), task.payload);
      } catch (err) {
        void this.failUndeliverable(task, err as Error);
        continue;
      }
      const ackTimer = setTimeout(() => this.ackTimedOut(session, task.id, task.attempt), this.options.timing.ackTimeoutMs);
      ackTimer.unref();
      session.held.set(task.id, { attempt: task.attempt, type: task.type, accepted: false, ackTimer, task });
      const deadline = Date.now() + task.runTimeoutSeconds * 1000;
      held.push(task);
      assigns.push({ taskId: task.id, attempt: task.attempt, type: task.type, payload, deadlineUnixMs: BigInt(deadline) });
    }
    if (assigns.length === 0) return;
    const out = session.sendAssigns(assigns);
    this.options.metrics.assignFramesSent(out);
    for (const [i, task] of held.entries()) {
      this.options.metrics.taskAssigned(task);
      if (i < out.sent) continue;
      session.release(task.id);
      void this.options.requeue.requeue(task, 'connection closed before the assignment was sent');
    }
  }

  private async failUndeliverable(task: TaskRecord, err: Error): Promise<void> {
    const ended = await this.options.store.completeTask({
      taskId: task.id,
      attempt: task.attempt,
      delegateId: task.delegateId ?? '',
      outcome: { state: 'failed', error: { code: ErrorCode.INTERNAL, message: `The task could not be encoded for delivery: ${err.message}`, details: {} } },
      now: new Date(),
    });
    if (ended) await this.options.lifecycle.ended(ended);
  }

  private ackTimedOut(session: DelegateSession, taskId: string, attempt: number): void {
    const held = session.held.get(taskId);
    if (!held || held.accepted || held.attempt !== attempt) return;
    session.release(taskId);
    void this.options.store
      .getTask(session.tenantId, taskId)
      .then(async (task) => {
        if (task && task.attempt === attempt && task.state === 'assigned') await this.options.requeue.requeue(task, 'assignment not acknowledged in time');
      })
      // The store is unreachable: the lease (as long as the ack timeout) expires and the sweeper
      // requeues the attempt once the store is back.
      .catch((err: unknown) => this.options.log.warn({ err, taskId, attempt }, 'could not requeue an unacknowledged assignment'))
      .finally(() => this.pump(session));
  }

  /** The delegate took the assignment: the task runs, on a lease its heartbeats extend. */
  async accepted(session: DelegateSession, taskId: string, attempt: number): Promise<void> {
    const held = session.held.get(taskId);
    if (!held || held.attempt !== attempt || held.accepted) return;
    held.accepted = true;
    if (held.ackTimer) clearTimeout(held.ackTimer);
    held.ackTimer = null;
    const startedAt = new Date();
    held.startedAt = startedAt;
    // Without a delay (or a task record to announce from), written at once. Otherwise written, and
    // announced, only if the attempt is still running after the delay (see runningWriteDelayMs); one
    // that ends sooner is announced running by the ResultRecorder, just before its end. Either way
    // the event follows the store: a reader that sees it reads running.
    const write = async () => {
      const running = await this.markRunning(session, taskId, attempt, startedAt);
      if (running && !held.runningAnnounced) {
        held.runningAnnounced = true;
        this.options.lifecycle.running(running);
      }
    };
    if (this.runningWriteDelayMs <= 0 || !held.task) return write();
    held.runningTimer = setTimeout(() => {
      held.runningTimer = null;
      if (session.holds(taskId, attempt)) void write();
    }, this.runningWriteDelayMs);
    held.runningTimer.unref();
  }

  /** Writes the attempt as running; when it is no longer this delegate's (cancelled, requeued), stops it there. */
  private async markRunning(session: DelegateSession, taskId: string, attempt: number, startedAt: Date): Promise<TaskRecord | null> {
    let running: TaskRecord | null;
    try {
      running = await this.options.store.markRunning({
        taskId,
        attempt,
        delegateId: session.id,
        now: startedAt,
        leaseExpiresAt: new Date(Date.now() + this.options.timing.heartbeatTimeoutMs),
      });
    } catch (err) {
      // The lease (the ack timeout) runs on; heartbeats extend it while the store is reachable again.
      this.options.log.warn({ err, taskId, attempt }, 'could not write an accepted attempt as running');
      return null;
    }
    // Ended meanwhile (its result was recorded first): nothing to stop.
    if (!running && !session.holds(taskId, attempt)) return null;
    if (!running) {
      // Cancelled or requeued meanwhile: tell the delegate to stop.
      session.release(taskId);
      session.send({ case: 'cancel', value: { taskId, attempt, reason: 'task is no longer assigned to this delegate' } });
      this.pump(session);
    }
    return running;
  }
}
