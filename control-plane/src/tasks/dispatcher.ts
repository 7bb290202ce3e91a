import type { Logger } from 'pino';
import type { Result as ResultFrame, TaskRef } from '@attache/proto';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config.js';
import type { DelegateSession } from '../delegates/session.js';
import { ErrorCode } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Store, TaskError, TaskRecord } from '../store/store.js';
import { staticReasons } from './eligibility.js';
import type { TaskLifecycle } from './lifecycle.js';
import { delegatePresence } from '../events/event-types.js';
import { decodeResult, encodePayload, taskType } from './task-types.js';

type Timing = Pick<Config, 'ackTimeoutMs' | 'heartbeatTimeoutMs'>;

const lostError = (reason: string): TaskError => ({
  code: ErrorCode.DELEGATE_LOST,
  message: `The delegate running this task was lost (${reason}) and the task used all its attempts. Check the delegates' health and logs.`,
  details: { reason },
});

/**
 * Matches queued tasks with the delegates connected to this replica. Event-driven: a queued task, a
 * freed slot and a new connection each trigger a match; nothing polls. The store's fenced claims
 * make every match safe against other replicas and against races between events here.
 */
export class Dispatcher {
  private readonly sessions = new Map<string, DelegateSession>();
  private readonly byTenant = new Map<string, Set<DelegateSession>>();
  /** Sessions with a pump running, and whether another pass was asked for meanwhile. */
  private readonly pumping = new Map<string, boolean>();
  private readonly unsubscribe: Array<() => void> = [];
  /** Retries of results the store could not record yet; dropped at stop (their leases expire and requeue). */
  private readonly pendingResults = new Set<NodeJS.Timeout>();

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly lifecycle: TaskLifecycle,
    private readonly metrics: Metrics,
    private readonly timing: Timing,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.unsubscribe.push(
      this.bus.subscribe('task.queued', (m) => void this.place(m.tenantId, m.taskId, m.type, m.selectors)),
      this.bus.subscribe('task.cancel', (m) => this.cancelLocal(m.taskId, m.attempt, m.delegateId, m.reason)),
    );
  }

  stop(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.pendingResults.size > 0) this.log.warn({ results: this.pendingResults.size }, 'stopping with results not yet recorded; their tasks will be requeued');
    for (const timer of this.pendingResults) clearTimeout(timer);
    this.pendingResults.clear();
  }

  localSessions(tenantId?: string): DelegateSession[] {
    if (tenantId === undefined) return [...this.sessions.values()];
    return [...(this.byTenant.get(tenantId) ?? [])];
  }

  session(id: string): DelegateSession | undefined {
    return this.sessions.get(id);
  }

  /**
   * A delegate registered. `inFlight` are tasks it still runs from before a reconnect. The caller
   * pumps work to it once the delegate has been welcomed.
   */
  async register(session: DelegateSession, inFlight: readonly TaskRef[]): Promise<{ stale: TaskRef[]; lost: TaskRecord[] }> {
    const previous = this.sessions.get(session.id);
    if (previous && previous !== session) {
      // Same process reconnected while its old stream still looked alive: the old one is stale.
      previous.close('REPLACED', 'A newer connection of this delegate instance replaced this one.');
      await this.unregister(previous, 'replaced by a new connection');
    }
    this.sessions.set(session.id, session);
    let set = this.byTenant.get(session.tenantId);
    if (!set) this.byTenant.set(session.tenantId, (set = new Set()));
    set.add(session);
    void this.bus.publish('tenant.event', delegatePresence(session.tenantId, session.identity, 'connected'));
    return this.adopt(session, inFlight);
  }

  /**
   * The connection is gone: requeue everything the delegate holds (a new attempt each), unless a
   * newer connection of the same delegate has registered meanwhile, here or on another replica. That
   * one adopted the tasks the delegate still runs and requeued the rest, and requeueing again would
   * take work away from a delegate that is running it.
   */
  async unregister(session: DelegateSession, reason: string): Promise<void> {
    if (this.sessions.get(session.id) !== session) return;
    session.closed = true;
    this.sessions.delete(session.id);
    this.byTenant.get(session.tenantId)?.delete(session);
    for (const taskId of [...session.held.keys()]) session.release(taskId);
    if (!(await this.store.endDelegateSession(session.id, session.sessionId, new Date()))) {
      this.log.info({ delegateId: session.id, reason }, 'a newer connection of this delegate took over; its tasks stay with it');
      return;
    }
    void this.bus.publish('tenant.event', delegatePresence(session.tenantId, session.identity, 'disconnected'));
    const active = await this.store.listActiveTasksOfDelegate(session.id);
    for (const task of active) await this.requeue(task, reason);
  }

  async requeue(task: TaskRecord, reason: string): Promise<void> {
    const updated = await this.store.requeueTask(task.id, task.attempt, new Date(), lostError(reason));
    if (!updated) return;
    this.log.warn({ taskId: task.id, attempt: task.attempt, delegateId: task.delegateId, reason, state: updated.state }, 'task attempt lost');
    if (updated.state === 'queued') {
      this.metrics.taskRequeued(updated);
      await this.lifecycle.queued(updated);
    } else {
      await this.lifecycle.ended(updated);
    }
  }

  /** A task entered the queue: offer it to the least-loaded eligible local delegate. */
  async place(tenantId: string, taskId: string, type: string, selectors: readonly string[]): Promise<void> {
    const candidates = this.localSessions(tenantId)
      .filter((s) => s.free > 0 && staticReasons(s.view(), { type, selectors }).length === 0)
      .sort((a, b) => a.load - b.load);
    for (const session of candidates) {
      if (!session.reserve()) continue;
      const now = new Date();
      let claimed: TaskRecord | null;
      try {
        claimed = await this.store.claimTask(taskId, session.claimant(), now, new Date(now.getTime() + this.timing.ackTimeoutMs));
      } catch (err) {
        // A wake-up, not state: the task stays queued for the next freed slot, connection or requeue.
        this.log.warn({ err, taskId }, 'claiming a queued task failed');
        return;
      } finally {
        session.unreserve();
      }
      // assign() holds the slot in the same turn as unreserve() freed it, so nothing slips in between.
      if (claimed) this.assign(session, claimed);
      // Not claimed: another replica or event took it, or it is no longer queued.
      return;
    }
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
    try {
      while (!session.closed && session.reserve()) {
        const now = new Date();
        let task: TaskRecord | null;
        try {
          task = await this.store.claimNext(session.claimant(), now, new Date(now.getTime() + this.timing.ackTimeoutMs));
        } finally {
          session.unreserve();
        }
        if (!task) return;
        this.assign(session, task);
      }
    } catch (err) {
      this.log.error({ err, delegateId: session.id }, 'claiming work for a delegate failed');
    }
  }

  private assign(session: DelegateSession, task: TaskRecord): void {
    if (session.closed) {
      void this.requeue(task, 'delegate disconnected during assignment');
      return;
    }
    let payload: Uint8Array;
    try {
      payload = encodePayload(taskType(task.type), task.payload);
    } catch (err) {
      void this.failUndeliverable(task, err as Error);
      return;
    }
    const ackTimer = setTimeout(() => this.ackTimedOut(session, task.id, task.attempt), this.timing.ackTimeoutMs);
    ackTimer.unref();
    session.held.set(task.id, { attempt: task.attempt, type: task.type, accepted: false, ackTimer });
    const deadline = Date.now() + task.runTimeoutSeconds * 1000;
    const sent = session.send({
      case: 'assign',
      value: { taskId: task.id, attempt: task.attempt, type: task.type, payload, deadlineUnixMs: BigInt(deadline) },
    });
    this.metrics.taskAssigned(task);
    if (!sent) {
      session.release(task.id);
      void this.requeue(task, 'connection closed before the assignment was sent');
    }
  }

  private async failUndeliverable(task: TaskRecord, err: Error): Promise<void> {
    const ended = await this.store.completeTask(
      task.id,
      task.attempt,
      task.delegateId ?? '',
      { state: 'failed', error: { code: ErrorCode.INTERNAL, message: `The task could not be encoded for delivery: ${err.message}`, details: {} } },
      new Date(),
    );
    if (ended) await this.lifecycle.ended(ended);
  }

  private ackTimedOut(session: DelegateSession, taskId: string, attempt: number): void {
    const held = session.held.get(taskId);
    if (!held || held.accepted || held.attempt !== attempt) return;
    session.release(taskId);
    void this.store
      .getTask(session.tenantId, taskId)
      .then(async (task) => {
        if (task && task.attempt === attempt && task.state === 'assigned') await this.requeue(task, 'assignment not acknowledged in time');
      })
      // The store is unreachable: the lease (as long as the ack timeout) expires and the sweeper
      // requeues the attempt once the store is back.
      .catch((err: unknown) => this.log.warn({ err, taskId, attempt }, 'could not requeue an unacknowledged assignment'))
      .finally(() => this.pump(session));
  }

  async accepted(session: DelegateSession, taskId: string, attempt: number): Promise<void> {
    const held = session.held.get(taskId);
    if (!held || held.attempt !== attempt) return;
    held.accepted = true;
    if (held.ackTimer) clearTimeout(held.ackTimer);
    held.ackTimer = null;
    const now = new Date();
    const running = await this.store.markRunning(taskId, attempt, session.id, now, new Date(now.getTime() + this.timing.heartbeatTimeoutMs));
    if (!running) {
      // Cancelled or requeued meanwhile: tell the delegate to stop.
      session.release(taskId);
      session.send({ case: 'cancel', value: { taskId, attempt, reason: 'task is no longer assigned to this delegate' } });
      this.pump(session);
    }
    if (running) this.lifecycle.running(running);
  }

  async result(session: DelegateSession, frame: ResultFrame): Promise<void> {
    const held = session.held.get(frame.taskId);
    if (!held || held.attempt !== frame.attempt || held.resultPending) {
      // Released only when the attempts match: the result of a superseded attempt (the delegate was
      // given attempt 2 while attempt 1 still ran) must not release attempt 2, whose own result
      // would then be ignored and leave the task running until its run timeout.
      this.log.info({ taskId: frame.taskId, attempt: frame.attempt, delegateId: session.id }, 'ignored a result for an attempt this delegate does not hold');
      return;
    }
    const outcome = this.outcomeOf(held.type, frame);
    const endedAt = new Date();
    const record = () => this.store.completeTask(frame.taskId, frame.attempt, session.id, outcome, endedAt);
    let ended: TaskRecord | null;
    try {
      ended = await record();
    } catch (err) {
      // The delegate has let go of the task; the result exists only here now. Keep the slot and
      // retry until the store takes it, instead of dropping the connection and rerunning the task.
      held.resultPending = true;
      this.log.warn({ err, taskId: frame.taskId, attempt: frame.attempt, delegateId: session.id }, 'could not record a result; retrying');
      this.retryResult(session, frame.taskId, frame.attempt, record);
      return;
    }
    session.release(frame.taskId);
    await this.resultRecorded(session, frame.taskId, frame.attempt, ended);
  }

  private async resultRecorded(session: DelegateSession, taskId: string, attempt: number, ended: TaskRecord | null): Promise<void> {
    try {
      if (ended) await this.lifecycle.ended(ended);
      else this.log.info({ taskId, attempt }, 'dropped a result fenced by attempt or state');
    } finally {
      this.pump(session);
    }
  }

  /** Retries recording a result with capped backoff for as long as this replica runs. */
  private retryResult(session: DelegateSession, taskId: string, attempt: number, record: () => Promise<TaskRecord | null>, delayMs = 250): void {
    const timer = setTimeout(() => {
      this.pendingResults.delete(timer);
      record().then(
        async (ended) => {
          if (session.held.get(taskId)?.attempt === attempt) session.release(taskId);
          this.log.info({ taskId, attempt, delegateId: session.id, recorded: ended !== null }, 'recorded a result after retrying');
          await this.resultRecorded(session, taskId, attempt, ended);
        },
        () => this.retryResult(session, taskId, attempt, record, Math.min(delayMs * 2, 5_000)),
      ).catch((err: unknown) => this.log.error({ err, taskId }, 'finishing a retried result failed'));
    }, delayMs);
    timer.unref();
    this.pendingResults.add(timer);
  }

  private outcomeOf(type: string, frame: ResultFrame) {
    if (frame.outcome.case === 'success') {
      try {
        return { state: 'succeeded' as const, result: decodeResult(taskType(type), frame.outcome.value) };
      } catch (err) {
        return {
          state: 'failed' as const,
          error: { code: ErrorCode.INTERNAL, message: `The delegate returned a malformed ${type} result: ${(err as Error).message}`, details: {} },
        };
      }
    }
    if (frame.outcome.case === 'error') {
      const e = frame.outcome.value;
      return {
        state: 'failed' as const,
        error: { code: e.code || ErrorCode.INTERNAL, message: e.message, details: (e.details ?? {}) as Record<string, unknown> },
      };
    }
    return {
      state: 'failed' as const,
      error: { code: ErrorCode.INTERNAL, message: 'The delegate returned a result with no outcome.', details: {} },
    };
  }

  async heartbeat(session: DelegateSession, inFlight: number, held?: readonly TaskRef[]): Promise<void> {
    const now = new Date();
    session.lastHeartbeatAt = now;
    try {
      // An attempt released here but not requeued (the store failed midway) is no longer extended:
      // its lease runs out and the sweeper requeues it once the store is back.
      if (held) await this.reconcile(session, held);
      await this.store.extendLeases(session.id, [...session.held.keys()], new Date(now.getTime() + this.timing.heartbeatTimeoutMs));
      await this.store.updateDelegatePresence(session.id, { lastHeartbeatAt: now, inFlight: Math.max(inFlight, session.inFlight) });
    } catch (err) {
      // The delegate is alive; only the store is not. Keep the connection: leases are re-extended by
      // the next heartbeat once the store is back, and dropping healthy delegates would add a
      // reconnect storm to a database outage.
      this.log.warn({ err, delegateId: session.id }, 'could not record a heartbeat; keeping the connection');
    }
  }

  /**
   * Compares what this session holds with what the delegate says it holds. Frames on one connection
   * arrive in order, so by the time a heartbeat is handled every Result sent before it has been
   * handled too: an accepted attempt missing from the list had its Result lost in transit (a NATS
   * message dropped while the server restarted, say) and would otherwise keep its lease alive until
   * the run timeout. It is requeued as a new attempt. An attempt the delegate lists but this session
   * does not hold (given up after an ack timeout, or reassigned) is cancelled on the delegate, so it
   * stops spending effort on a result that would be fenced anyway.
   */
  private async reconcile(session: DelegateSession, listed: readonly TaskRef[]): Promise<void> {
    const reported = new Map(listed.map((ref) => [ref.taskId, ref.attempt]));
    const lost = [...session.held].filter(([taskId, h]) => h.accepted && !h.resultPending && reported.get(taskId) !== h.attempt);
    for (const [taskId] of lost) session.release(taskId);
    try {
      for (const [taskId, h] of lost) {
        const task = await this.store.getTask(session.tenantId, taskId);
        if (task && task.attempt === h.attempt && task.delegateId === session.id && (task.state === 'assigned' || task.state === 'running')) {
          await this.requeue(task, 'the delegate no longer holds this attempt (its result was lost in transit)');
        }
      }
    } finally {
      if (lost.length > 0) this.pump(session);
    }
    for (const [taskId, attempt] of reported) {
      if (session.held.get(taskId)?.attempt === attempt) continue;
      this.log.info({ taskId, attempt, delegateId: session.id }, 'cancelling an attempt the delegate runs but does not hold');
      session.send({ case: 'cancel', value: { taskId, attempt, reason: 'this attempt is no longer assigned to this delegate' } });
    }
  }

  async draining(session: DelegateSession): Promise<void> {
    session.status = 'draining';
    await this.store.updateDelegatePresence(session.id, { status: 'draining' });
    void this.bus.publish('tenant.event', delegatePresence(session.tenantId, session.identity, 'draining'));
  }

  /** Sends Cancel if this replica holds the delegate's connection and it still runs that attempt. */
  cancelLocal(taskId: string, attempt: number, delegateId: string, reason: string): void {
    const session = this.sessions.get(delegateId);
    const held = session?.held.get(taskId);
    if (!session || !held || held.attempt !== attempt) return;
    session.send({ case: 'cancel', value: { taskId, attempt, reason } });
  }

  /**
   * Tasks a reconnecting delegate still runs: keep those it still holds; return the rest, which the
   * caller cancels on the delegate once it has been welcomed.
   */
  private async adopt(session: DelegateSession, inFlight: readonly TaskRef[]): Promise<{ stale: TaskRef[]; lost: TaskRecord[] }> {
    const stale: TaskRef[] = [];
    for (const ref of inFlight) {
      const task = await this.store.getTask(session.tenantId, ref.taskId);
      const stillOurs = task && task.delegateId === session.id && task.attempt === ref.attempt && (task.state === 'assigned' || task.state === 'running');
      if (stillOurs) {
        session.held.set(ref.taskId, { attempt: ref.attempt, type: task.type, accepted: true, ackTimer: null });
      } else {
        stale.push(ref);
      }
    }
    // The same process reconnecting without listing a task it was given no longer has it (its
    // result went down with the old connection, or the Assign never arrived): that attempt is lost.
    const lost = (await this.store.listActiveTasksOfDelegate(session.id)).filter((t) => !session.held.has(t.id));
    if (session.held.size > 0) {
      const now = new Date();
      await this.store.extendLeases(session.id, [...session.held.keys()], new Date(now.getTime() + this.timing.heartbeatTimeoutMs));
    }
    return { stale, lost };
  }
}
