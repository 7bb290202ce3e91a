import type { Logger } from 'pino';
import { batchTooLargeMessage, GoodbyeCode, type Accepted, type DelegateBatchItem, type DelegateFrame, type Result } from '@attache/proto';
import type { DelegateConnection } from '../carriers/carrier.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/store.js';
import type { Dispatcher } from '../tasks/dispatcher.js';
import type { LeaseKeeper } from '../tasks/lease-keeper.js';
import type { Requeue } from '../tasks/requeue.js';
import type { ResultRecorder } from '../tasks/result-recorder.js';
import type { Handshake } from './handshake.js';
import type { HandshakePacer } from './handshake-pacer.js';
import { HELLO_LIMITS, validTaskRef } from './hello.js';
import type { DelegateSession } from './session.js';

const HELLO_TIMEOUT_MS = 10_000;

type Timing = Pick<Config, 'heartbeatIntervalMs' | 'heartbeatTimeoutMs'> & Partial<Pick<Config, 'delegateBatchItems'>>;

/** One task's step as a frame (or an item of a batch) reports it. */
type TaskItem = { case: 'accepted'; value: Accepted } | { case: 'result'; value: Result } | { case: 'acceptedResult'; value: Result };

export interface ConnectionHandlerDeps {
  handshake: Pick<Handshake, 'run'>;
  /** Admission pacing: how many handshakes run at once; the rest are told when to come back. */
  pacer: Pick<HandshakePacer, 'admit'>;
  dispatcher: Pick<Dispatcher, 'pump' | 'accepted'>;
  results: Pick<ResultRecorder, 'record'>;
  leases: Pick<LeaseKeeper, 'heartbeat' | 'unregister'>;
  requeue: Requeue;
  store: Pick<Store, 'updateDelegatePresence'>;
  metrics: Pick<Metrics, 'delegateConnected' | 'delegateDisconnected' | 'delegatePaced' | 'taskFrameReceived'>;
  timing: Timing;
  log: Logger;
}

/**
 * One connection's life, carrier-independent: frames in order, the handshake (delegates/handshake.ts),
 * then each frame routed to the part that handles it, until the connection closes or misses its
 * heartbeats. Anything malformed closes the connection with a Goodbye that says why.
 */
export class ConnectionHandler {
  /**
   * Registered sessions and their connections, checked for missed heartbeats by one shared timer
   * (not one per connection: tens of thousands of idle delegates would mean as many timers).
   */
  private readonly watched = new Map<DelegateSession, DelegateConnection>();
  private watchdog: NodeJS.Timeout | null = null;

  constructor(private readonly deps: ConnectionHandlerDeps) {}

  stop(): void {
    if (this.watchdog) clearInterval(this.watchdog);
    this.watchdog = null;
  }

  accept(connection: DelegateConnection): void {
    const { log } = this.deps;
    const ticket = this.deps.pacer.admit();
    if (!ticket.admitted) {
      // Before the token is read: pacing costs one frame, and a storm reads nothing from the store.
      this.deps.metrics.delegatePaced(connection.transport);
      log.debug({ transport: connection.transport, inFlight: ticket.inFlight, retryAfterMs: ticket.retryAfterMs }, 'delegate handshake paced');
      connection.close({
        code: GoodbyeCode.RESOURCE_EXHAUSTED,
        message: `This control-plane replica is already running ${ticket.inFlight} delegate handshakes (ATTACHE_MAX_HANDSHAKES_IN_FLIGHT); the delegate reconnects in about ${ticket.retryAfterMs} ms.`,
        retryAfterMs: ticket.retryAfterMs,
      });
      return;
    }
    const pending: DelegateFrame[] = [];
    let session: DelegateSession | null = null;
    let closed = false;
    let processing = Promise.resolve();
    let wake: (() => void) | null = null;

    const helloTimer = setTimeout(() => {
      if (!session) connection.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: `No Hello frame within ${HELLO_TIMEOUT_MS / 1000} s.` });
    }, HELLO_TIMEOUT_MS);
    helloTimer.unref();

    connection.onClose((reason) => {
      closed = true;
      ticket.done();
      wake?.();
      clearTimeout(helloTimer);
      if (session) {
        const s = session;
        this.watched.delete(s);
        this.deps.metrics.delegateDisconnected(s.transport);
        log.info({ delegateId: s.id, tenantId: s.tenantId, name: s.identity.name, reason }, 'delegate disconnected');
        processing = processing.then(() => this.deps.leases.unregister(s, reason)).catch((err) => log.error({ err }, 'unregister failed'));
      }
    });

    // Frames are handled strictly in order, one at a time: a Result must never overtake its Accepted.
    const handle = (frame: DelegateFrame): void => {
      processing = processing
        .then(async () => {
          // Results still count after a close (the delegate let go of their tasks); nothing else does.
          if (closed && frame.frame.case !== 'result' && frame.frame.case !== 'batch') return;
          if (!session) {
            pending.push(frame);
            wake?.();
            return;
          }
          await this.onFrame(session, connection, frame, closed);
        })
        .catch((err) => {
          log.error({ err }, 'handling a delegate frame failed');
          connection.close({ code: GoodbyeCode.INTERNAL, message: 'The control plane failed to handle a frame; reconnect.' });
        });
    };
    connection.onFrame(handle);

    const frames = {
      get closed() {
        return closed;
      },
      /** The next frame of the handshake (Hello, then KeyProof), or null once the connection closed. */
      async next(): Promise<DelegateFrame | null> {
        while (!closed && pending.length === 0) await new Promise<void>((r) => (wake = r));
        wake = null;
        return closed ? null : (pending.shift() ?? null);
      },
    };

    void (async () => {
      const welcomed = await this.deps.handshake.run(connection, frames).finally(() => ticket.done());
      if (!welcomed) return;
      const s = welcomed.session;
      clearTimeout(helloTimer);
      session = s;
      this.deps.metrics.delegateConnected(connection.transport);
      log.info({ delegateId: s.id, tenantId: s.tenantId, name: s.identity.name, tags: s.identity.tags, transport: connection.transport }, 'delegate registered');
      this.watch(s, connection);
      for (const ref of welcomed.stale) {
        s.send({ case: 'cancel', value: { taskId: ref.taskId, attempt: ref.attempt, reason: 'task was reassigned while the delegate was away' } });
      }
      for (const task of welcomed.lost) await this.deps.requeue.requeue(task, 'the delegate reconnected without this task');
      // Work only after Welcome: an Assign must never reach a delegate before it knows it is registered.
      this.deps.dispatcher.pump(s);
      // Frames that arrived behind Hello while we registered.
      for (const frame of pending.splice(0)) handle(frame);
    })().catch((err) => {
      log.error({ err }, 'delegate registration failed');
      connection.close({ code: GoodbyeCode.INTERNAL, message: 'Registration failed on the control plane; the delegate will retry.' });
    });
  }

  private watch(session: DelegateSession, connection: DelegateConnection): void {
    this.watched.set(session, connection);
    if (this.watchdog) return;
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const [s, c] of this.watched) {
        if (now - s.lastHeartbeatAt.getTime() > this.deps.timing.heartbeatTimeoutMs) {
          this.watched.delete(s);
          c.close({ code: GoodbyeCode.HEARTBEAT_TIMEOUT, message: `No heartbeat for ${this.deps.timing.heartbeatTimeoutMs} ms.` });
        }
      }
    }, Math.min(this.deps.timing.heartbeatIntervalMs, 1_000));
    this.watchdog.unref();
  }

  private async onFrame(session: DelegateSession, connection: DelegateConnection, frame: DelegateFrame, closed: boolean): Promise<void> {
    const f = frame.frame;
    switch (f.case) {
      case 'heartbeat': {
        const held = f.value.held;
        if (held.length > HELLO_LIMITS.maxInFlightRefs) return this.protocolError(connection, `Heartbeat lists more than ${HELLO_LIMITS.maxInFlightRefs} held tasks`);
        if (!held.every((ref) => validTaskRef(ref.taskId))) return this.protocolError(connection, 'Heartbeat with an invalid task_id');
        await this.deps.leases.heartbeat(session, f.value.inFlight, f.value.listsHeld ? held : undefined);
        return;
      }
      case 'accepted':
      case 'result': {
        this.deps.metrics.taskFrameReceived(f.case, 1);
        const problem = taskItemProblem(f);
        if (problem) return this.protocolError(connection, problem);
        return this.onTaskItem(session, f, closed);
      }
      case 'batch':
        return this.onBatch(session, connection, f.value.items, closed);
      case 'draining':
        this.deps.log.info({ delegateId: session.id, reason: f.value.reason }, 'delegate draining');
        // It finishes what it holds and takes nothing new; the row tells other replicas and listings.
        if (session.transition('connected', 'draining')) await this.deps.store.updateDelegatePresence(session.id, { status: 'draining' });
        return;
      case 'hello':
        return this.protocolError(connection, 'Hello may only be sent once per connection');
      case 'keyProof':
        return this.protocolError(connection, 'KeyProof is only sent in answer to KeyChallenge, once');
      default:
        return this.protocolError(connection, 'empty or unknown frame');
    }
  }

  /**
   * A DelegateBatch: every item checked as the same frame alone would be, before any is handled
   * (one bad item refuses the frame with that frame's Goodbye). Items of one task are handled in
   * order; those of different tasks at once, so their store writes share one commit and nothing
   * waits on another task's write.
   */
  private async onBatch(session: DelegateSession, connection: DelegateConnection, batch: DelegateBatchItem[], closed: boolean): Promise<void> {
    this.deps.metrics.taskFrameReceived('batch', batch.length);
    const limit = this.deps.timing.delegateBatchItems ?? 0;
    if (batch.length > limit) {
      connection.close({ code: GoodbyeCode.BATCH_TOO_LARGE, message: batchTooLargeMessage('DelegateBatch', batch.length, limit) });
      return;
    }
    if (batch.length === 0) return this.protocolError(connection, 'a batch with no items');
    const items: TaskItem[] = [];
    for (const { item } of batch) {
      if (item.case === undefined) return this.protocolError(connection, 'empty or unknown batch item');
      const problem = taskItemProblem(item);
      if (problem) return this.protocolError(connection, problem);
      items.push(item);
    }
    const byTask = new Map<string, Promise<void>>();
    for (const item of items) {
      const before = byTask.get(item.value.taskId);
      byTask.set(item.value.taskId, before ? before.then(() => this.onTaskItem(session, item, closed)) : this.onTaskItem(session, item, closed));
    }
    await Promise.all(byTask.values());
  }

  /** Accepted, Result, or both folded (handled as the Accepted immediately followed by the Result). */
  private async onTaskItem(session: DelegateSession, item: TaskItem, closed: boolean): Promise<void> {
    // After a close only the result counts, as for single frames.
    if (item.case !== 'result' && !closed) await this.deps.dispatcher.accepted(session, item.value.taskId, item.value.attempt);
    if (item.case !== 'accepted') await this.deps.results.record(session, item.value);
  }

  private protocolError(connection: DelegateConnection, message: string): void {
    connection.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: `Protocol error: ${message}.` });
  }
}

/** Why a task frame (or batch item) is refused at the edge, or null. */
function taskItemProblem(item: TaskItem): string | null {
  if (validTaskRef(item.value.taskId)) return null;
  return item.case === 'accepted' ? 'Accepted with an invalid task_id' : 'Result with an invalid task_id';
}
