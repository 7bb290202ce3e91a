import type { Logger } from 'pino';
import { GoodbyeCode, type TaskRef } from '@attache/proto';
import type { Config } from '../config.js';
import type { DelegateSession } from '../delegates/session.js';
import type { Store, TaskRecord } from '../store/store.js';
import type { Requeue } from './requeue.js';
import type { SlotFiller } from './result-recorder.js';

type Timing = Pick<Config, 'heartbeatTimeoutMs'>;

/** Where registered sessions are kept (the session registry). */
export interface SessionSet {
  add(session: DelegateSession): DelegateSession | undefined;
  remove(session: DelegateSession): boolean;
}

export interface LeaseKeeperOptions {
  store: Pick<Store, 'getTask' | 'extendLeases' | 'updateDelegatePresence' | 'endDelegateSession' | 'listActiveTasksOfDelegate'>;
  sessions: SessionSet;
  requeue: Requeue;
  slots: SlotFiller;
  timing: Timing;
  log: Logger;
}

/**
 * Keeps the leases of what a delegate holds in step with what it says it holds: adopts the tasks a
 * reconnecting delegate still runs, extends leases on each heartbeat and reconciles the held list,
 * and requeues everything a delegate held when its connection goes for good.
 */
export class LeaseKeeper {
  constructor(private readonly options: LeaseKeeperOptions) {}

  /**
   * A delegate registered. `inFlight` are tasks it still runs from before a reconnect: those still
   * its own are held again; `stale` (reassigned meanwhile) are for the caller to cancel on the
   * delegate once it has been welcomed, and `lost` (its own, but not listed) to requeue.
   */
  async register(session: DelegateSession, inFlight: readonly TaskRef[]): Promise<{ stale: TaskRef[]; lost: TaskRecord[] }> {
    const previous = this.options.sessions.add(session);
    if (previous) {
      // Same process reconnected while its old stream still looked alive: the old one is stale.
      previous.close(GoodbyeCode.REPLACED, 'A newer connection of this delegate instance replaced this one.');
      await this.release(previous, 'replaced by a new connection');
    }
    return this.adopt(session, inFlight);
  }

  /**
   * The connection is gone: requeue everything the delegate holds (a new attempt each), unless a
   * newer connection of the same delegate has registered meanwhile, here or on another replica. That
   * one adopted the tasks the delegate still runs and requeued the rest, and requeueing again would
   * take work away from a delegate that is running it.
   */
  async unregister(session: DelegateSession, reason: string): Promise<void> {
    if (!this.options.sessions.remove(session)) return;
    await this.release(session, reason);
  }

  private async release(session: DelegateSession, reason: string): Promise<void> {
    session.end();
    for (const taskId of [...session.held.keys()]) session.release(taskId);
    const { store, log } = this.options;
    if (!(await store.endDelegateSession(session.id, session.sessionId, new Date()))) {
      log.info({ delegateId: session.id, reason }, 'a newer connection of this delegate took over; its tasks stay with it');
      return;
    }
    for (const task of await store.listActiveTasksOfDelegate(session.id)) await this.options.requeue.requeue(task, reason);
  }

  async heartbeat(session: DelegateSession, inFlight: number, held?: readonly TaskRef[]): Promise<void> {
    const now = new Date();
    session.lastHeartbeatAt = now;
    const { store, timing } = this.options;
    try {
      // An attempt released here but not requeued (the store failed midway) is no longer extended:
      // its lease runs out and the sweeper requeues it once the store is back.
      if (held) await this.reconcile(session, held);
      await store.extendLeases(session.id, [...session.held.keys()], new Date(now.getTime() + timing.heartbeatTimeoutMs));
      await store.updateDelegatePresence(session.id, { lastHeartbeatAt: now, inFlight: Math.max(inFlight, session.inFlight) });
    } catch (err) {
      // The delegate is alive; only the store is not. Keep the connection: leases are re-extended by
      // the next heartbeat once the store is back, and dropping healthy delegates would add a
      // reconnect storm to a database outage.
      this.options.log.warn({ err, delegateId: session.id }, 'could not record a heartbeat; keeping the connection');
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
        const task = await this.options.store.getTask(session.tenantId, taskId);
        if (task && task.attempt === h.attempt && task.delegateId === session.id && (task.state === 'assigned' || task.state === 'running')) {
          await this.options.requeue.requeue(task, 'the delegate no longer holds this attempt (its result was lost in transit)');
        }
      }
    } finally {
      if (lost.length > 0) this.options.slots.pump(session);
    }
    for (const [taskId, attempt] of reported) {
      if (session.holds(taskId, attempt)) continue;
      this.options.log.info({ taskId, attempt, delegateId: session.id }, 'cancelling an attempt the delegate runs but does not hold');
      session.send({ case: 'cancel', value: { taskId, attempt, reason: 'this attempt is no longer assigned to this delegate' } });
    }
  }

  /** Tasks a reconnecting delegate still runs: keep those it still holds; return the rest. */
  private async adopt(session: DelegateSession, inFlight: readonly TaskRef[]): Promise<{ stale: TaskRef[]; lost: TaskRecord[] }> {
    const { store, timing } = this.options;
    const stale: TaskRef[] = [];
    for (const ref of inFlight) {
      const task = await store.getTask(session.tenantId, ref.taskId);
      const stillOurs = task && task.delegateId === session.id && task.attempt === ref.attempt && (task.state === 'assigned' || task.state === 'running');
      if (stillOurs) {
        session.held.set(ref.taskId, { attempt: ref.attempt, type: task.type, accepted: true, ackTimer: null });
      } else {
        stale.push(ref);
      }
    }
    // The same process reconnecting without listing a task it was given no longer has it (its
    // result went down with the old connection, or the Assign never arrived): that attempt is lost.
    const lost = (await store.listActiveTasksOfDelegate(session.id)).filter((t) => !session.held.has(t.id));
    if (session.held.size > 0) {
      await store.extendLeases(session.id, [...session.held.keys()], new Date(Date.now() + timing.heartbeatTimeoutMs));
    }
    return { stale, lost };
  }
}
