import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { create } from '@bufbuild/protobuf';
import {
  CONFIGURATION_GOODBYE_CODES,
  DelegateFrameSchema,
  FATAL_GOODBYE_CODES,
  KeyPossessionSchema,
  proveKeyPossession,
  ResultSchema,
  TaskRefSchema,
  type Assign,
  type Cancel,
  type DelegateFrame,
  type KeyChallenge,
  type Result,
  type Welcome,
} from '@attache/proto';
import { AGENT_DEFAULTS, agentTimings, type AgentOptions, type AgentTimings, type ExecutorSource } from './agent-options.js';
import { AgentStateMachine, type AgentState, type AgentStopInfo } from './agent-state.js';
import { Backoff } from './backoff.js';
import { CarrierError, createCarrier, type Carrier, type CarrierConnection } from './carriers/index.js';
import { AgentConfigurationError, AgentErrorCode, AgentStateError, BatchTooLargeError, GoodbyeError, WelcomeTimeoutError } from './errors.js';
import type { Executor } from './executors/executor.js';
import { ExecutorRegistry } from './executors/registry.js';
import { createLogger, type Logger } from './log.js';
import { Masker } from './masking.js';
import { Outbox, type OutboxLink } from './outbox.js';
import { DelegatePolicy } from './policy/delegate-policy.js';
import { errorOutcome, maskOutcome, TaskRun, type CancelReason, type TaskInfo } from './task-run.js';

export type { AgentOptions, ExecutorSource } from './agent-options.js';
export type { AgentState, AgentStopInfo } from './agent-state.js';
export type { TaskInfo } from './task-run.js';
export { AgentErrorCode, BatchTooLargeError, GoodbyeError, WelcomeTimeoutError } from './errors.js';

export interface WelcomeInfo {
  delegateId: string;
  tenantId: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

export interface TaskOutcome extends TaskInfo {
  /** 'SUCCESS' or the TaskError code sent to the control plane. */
  code: string;
  durationMs: number;
}

export interface AgentEvents {
  state: [state: AgentState, previous: AgentState];
  registered: [welcome: WelcomeInfo];
  disconnected: [error: Error | undefined];
  taskStarted: [task: TaskInfo];
  taskFinished: [outcome: TaskOutcome];
  stopped: [info: AgentStopInfo];
}

const packageVersion = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

interface Session {
  conn: CarrierConnection;
  registered: boolean;
  registeredAt: number;
  /** What the outbox writes to; its `ended` resolves when the session is over, `batchItems` is set by Welcome. */
  link: OutboxLink & { batchItems: number };
}

type SessionEnd = { fatal: AgentStopInfo } | { error: Error | undefined; stable: boolean };

/**
 * The delegate: one state machine (agent-state.ts) and one connect loop. Each session says Hello,
 * waits for Welcome, heartbeats, and turns Assign/Cancel into task runs (task-run.ts) whose results
 * wait in the outbox (outbox.ts) until a registered connection takes them.
 */
export class Agent extends EventEmitter<AgentEvents> {
  readonly instanceId: string;
  readonly masker: Masker;
  readonly log: Logger;

  private readonly options: AgentOptions;
  private readonly timings: AgentTimings;
  private readonly urls: string[];
  private readonly executors: ExecutorSource;
  private readonly tags: string[];
  private readonly policy: DelegatePolicy;
  private readonly backoff: Backoff;
  /** One per URL, in the configured order; `target` is the one the next session uses. */
  private readonly carriers: Carrier[];
  private target = 0;

  private readonly lifecycle: AgentStateMachine;
  private session: Session | undefined;
  private welcome: WelcomeInfo | undefined;
  private readonly runs = new Map<string, TaskRun>();
  private readonly outbox: Outbox;
  /** Wakes the connect loop from a backoff sleep. */
  private readonly wake = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly stoppedPromise: Promise<AgentStopInfo>;
  private resolveStopped!: (info: AgentStopInfo) => void;
  /** Internal change notifications (task finished, result sent, state moved) for `waitUntil`. */
  private readonly changeWaiters = new Set<() => void>();

  constructor(options: AgentOptions) {
    super();
    this.options = options;
    this.timings = agentTimings(options);
    this.instanceId = options.instanceId ?? randomUUID();
    this.masker = options.masker ?? new Masker();
    this.masker.register(options.token);
    this.log = (options.logger ?? createLogger({ masker: this.masker })).child({
      delegate: options.name,
      instanceId: this.instanceId,
    });
    this.executors = isExecutorSource(options.executors) ? options.executors : new ExecutorRegistry(options.executors);
    this.tags = [...new Set([options.name, ...(options.tags ?? [])])];
    this.policy = options.policy ?? new DelegatePolicy({ token: options.token });
    this.backoff = new Backoff(options.backoff);
    const urls = typeof options.url === 'string' || options.url instanceof URL ? [options.url] : [...options.url];
    if (!options.carrier && urls.length === 0) {
      throw new AgentConfigurationError('NO_CONTROL_PLANE_URL', 'at least one control-plane URL is required');
    }
    this.carriers = options.carrier ? [options.carrier] : urls.map((url) => createCarrier(url, { token: options.token, ca: options.ca }));
    this.urls = options.carrier ? [String(options.url)] : urls.map(String);
    this.lifecycle = new AgentStateMachine((next, previous) => {
      this.log.debug({ from: previous, to: next }, 'state');
      this.emit('state', next, previous);
      this.notifyChange();
    });
    this.outbox = new Outbox(
      () => (this.session?.registered ? this.session.link : undefined),
      () => this.notifyChange(),
    );
    this.stoppedPromise = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  get state(): AgentState {
    return this.lifecycle.state;
  }

  /** True while a stream is up and the control plane has welcomed us on it. */
  get connected(): boolean {
    return this.session?.registered === true;
  }

  /** Tasks currently running. */
  get inFlight(): number {
    return this.runs.size;
  }

  /** What the control plane told us in the latest Welcome. */
  get registration(): WelcomeInfo | undefined {
    return this.welcome;
  }

  /** Resolves once the agent has stopped, with why. */
  get stopped(): Promise<AgentStopInfo> {
    return this.stoppedPromise;
  }

  /** Starts connecting in the background; returns at once. */
  start(): void {
    if (this.lifecycle.state !== 'idle') throw new AgentStateError(`agent already started (state ${this.lifecycle.state})`);
    this.log.info({ urls: this.urls, tags: this.tags, taskTypes: this.executors.types() }, 'delegate starting');
    this.lifecycle.moveTo('connecting');
    this.loop = this.connectLoop().catch((err: unknown) => {
      // A bug in the loop itself: stop rather than leave a delegate that looks alive but is not.
      this.log.error({ err }, 'connect loop failed');
      this.lifecycle.moveTo('stopping');
      this.cancelRuns({ kind: 'agent-failed' });
      this.finish({ reason: 'stopped', code: 'INTERNAL', message: 'connect loop failed' });
    });
  }

  /** Resolves when the agent reaches `state` (at once if it is there), or rejects after `timeoutMs`. */
  waitFor(state: AgentState, timeoutMs = 30_000): Promise<void> {
    if (this.lifecycle.state === state) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onState = (next: AgentState) => {
        if (next !== state) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`agent did not reach ${state} within ${timeoutMs} ms (state ${this.lifecycle.state})`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.off('state', onState);
      };
      this.on('state', onState);
    });
  }

  /**
   * Graceful shutdown: tell the control plane we are draining, refuse new work, let running tasks
   * finish within the grace period (then cancel them), deliver their results, close, stop.
   * Resolves with why the agent stopped (a stop() during the drain wins).
   */
  drain(reason = 'delegate shutting down'): Promise<AgentStopInfo> {
    if (this.lifecycle.state === 'idle') {
      this.finish({ reason: 'drained' });
    } else if (this.lifecycle.moveTo('draining')) {
      this.runDrain(reason).catch((err: unknown) => {
        this.log.error({ err }, 'drain failed; stopping');
        void this.stop();
      });
    }
    return this.stoppedPromise;
  }

  /** Immediate shutdown: cancels running tasks, drops undelivered results, closes the stream. */
  async stop(): Promise<AgentStopInfo> {
    if (this.lifecycle.state === 'stopped') return this.stoppedPromise;
    this.lifecycle.moveTo('stopping');
    this.cancelRuns({ kind: 'stopping' });
    this.session?.conn.abort();
    this.wake.abort();
    await this.loop;
    this.finish({ reason: 'stopped' });
    return this.stoppedPromise;
  }

  private async runDrain(reason: string): Promise<void> {
    const graceMs = this.timings.drainGraceMs;
    this.log.info({ inFlight: this.runs.size, graceMs, reason }, 'draining');
    if (this.session?.registered) this.sendDraining(this.session, reason);

    // stop() during the drain moves to `stopping`; every wait below then ends at once.
    const closing = () => this.lifecycle.closing;
    if (!(await this.waitUntil(() => this.runs.size === 0 || closing(), graceMs))) {
      this.log.warn({ inFlight: this.runs.size }, 'drain grace period elapsed; cancelling running tasks');
      this.cancelRuns({ kind: 'drain-grace' });
      // Runs settle as soon as they are cancelled (task-run.ts), so this wait is short.
      await this.waitUntil(() => this.runs.size === 0 || closing(), AGENT_DEFAULTS.cancelSettleMs);
    }

    if (!(await this.waitUntil(() => this.outbox.size === 0 || closing(), this.timings.flushTimeoutMs))) {
      this.log.warn({ undelivered: this.outbox.size }, 'results could not be delivered before shutdown');
    }

    if (!this.lifecycle.moveTo('stopping')) return;
    this.wake.abort();
    const session = this.session;
    if (session && !session.registered) {
      session.conn.abort();
      await this.loop;
    } else if (session) {
      // Half-close so the server sees a clean end of stream; cut it if the server does not follow.
      session.conn.close();
      const timer = setTimeout(() => session.conn.abort(), AGENT_DEFAULTS.closeTimeoutMs);
      await this.loop;
      clearTimeout(timer);
    } else {
      await this.loop;
    }
    this.finish({ reason: 'drained' });
  }

  private async connectLoop(): Promise<void> {
    while (!this.lifecycle.closing) {
      const end = await this.runSession();
      if ('fatal' in end) {
        this.log.error({ code: end.fatal.code, reason: end.fatal.message }, 'control plane refused this delegate; not reconnecting');
        this.lifecycle.moveTo('stopping');
        this.cancelRuns({ kind: 'refused' });
        this.finish(end.fatal);
        return;
      }
      if (this.lifecycle.closing) return;
      if (end.stable) this.backoff.reset();
      // A paced admission names when to come back (a Goodbye's retry_after_ms, or the hint of a
      // refused NATS credentials call); otherwise our own jittered backoff decides.
      const hintMs = end.error instanceof GoodbyeError || end.error instanceof CarrierError ? end.error.retryAfterMs : 0;
      const delayMs = hintMs > 0 ? this.backoff.afterHint(hintMs) : this.backoff.next();
      // Rotate on every failure: the URL that just failed (a replica that went away) is tried
      // again only after the others have had their turn.
      this.target = (this.target + 1) % this.carriers.length;
      this.log.warn({ err: end.error, delayMs, next: this.urls[this.target] }, 'disconnected; reconnecting');
      // Refused while draining: a draining agent reconnects only to deliver its results.
      this.lifecycle.moveTo('reconnecting');
      await sleep(delayMs, this.wake.signal);
    }
  }

  private async runSession(): Promise<SessionEnd> {
    const conn = this.carriers[this.target]!.open();
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const session: Session = { conn, registered: false, registeredAt: 0, link: { send: (frame) => conn.send(frame), ended, batchItems: 0 } };
    this.session = session;
    const welcomeTimeoutMs = this.timings.welcomeTimeoutMs;
    const welcomeTimer = setTimeout(() => conn.abort(new WelcomeTimeoutError(welcomeTimeoutMs)), welcomeTimeoutMs);
    let heartbeat: NodeJS.Timeout | undefined;
    let error: Error | undefined;

    // A failed write surfaces again through the iteration below, which is where it is handled.
    this.send(session, this.helloFrame());
    try {
      for await (const frame of conn) {
        switch (frame.frame.case) {
          case 'welcome': {
            clearTimeout(welcomeTimer);
            const info = this.onWelcome(session, frame.frame.value);
            if (info.heartbeatTimeoutMs > 0) conn.setSilenceTimeout?.(info.heartbeatTimeoutMs);
            clearInterval(heartbeat);
            heartbeat = setInterval(() => this.sendHeartbeat(session), info.heartbeatIntervalMs);
            break;
          }
          case 'keyChallenge':
            this.onKeyChallenge(session, frame.frame.value);
            break;
          case 'assign':
            this.onAssign(session, frame.frame.value);
            break;
          case 'assignBatch': {
            const { assigns } = frame.frame.value;
            // More than Hello announced: a control plane with a bug. None of it is taken; it requeues them.
            if (assigns.length > this.timings.maxBatchItems) {
              conn.abort(new BatchTooLargeError(assigns.length, this.timings.maxBatchItems));
              break;
            }
            for (const assign of assigns) this.onAssign(session, assign);
            break;
          }
          case 'cancel':
            this.onCancel(frame.frame.value);
            break;
          case 'goodbye': {
            const goodbye = frame.frame.value;
            if (FATAL_GOODBYE_CODES.has(goodbye.code)) {
              return { fatal: { reason: 'fatal', code: goodbye.code, message: this.masker.mask(goodbye.reason) } };
            }
            if (CONFIGURATION_GOODBYE_CODES.has(goodbye.code)) {
              return { fatal: { reason: 'misconfigured', code: goodbye.code, message: this.masker.mask(goodbye.reason) } };
            }
            error = new GoodbyeError(goodbye);
            conn.abort();
            break;
          }
          default:
            // A newer control plane may send frames this delegate does not know; ignoring them keeps it compatible.
            this.log.debug('ignoring unknown control frame');
        }
      }
    } catch (err) {
      if (err instanceof CarrierError && err.kind === 'unauthenticated') {
        return { fatal: { reason: 'fatal', code: err.code, message: this.masker.mask(err.message) } };
      }
      error ??= err instanceof Error ? err : new Error(String(err));
    } finally {
      clearTimeout(welcomeTimer);
      clearInterval(heartbeat);
      conn.abort();
      this.session = undefined;
      markEnded();
      if (session.registered) this.emit('disconnected', error);
    }
    const stable = session.registered && Date.now() - session.registeredAt >= this.timings.stableAfterMs;
    return { error, stable };
  }

  private onWelcome(session: Session, welcome: Welcome): WelcomeInfo {
    const info: WelcomeInfo = {
      delegateId: welcome.delegateId,
      tenantId: welcome.tenantId,
      heartbeatIntervalMs:
        welcome.heartbeatIntervalMs > 0
          ? Math.max(welcome.heartbeatIntervalMs, AGENT_DEFAULTS.minHeartbeatIntervalMs)
          : AGENT_DEFAULTS.heartbeatIntervalMs,
      heartbeatTimeoutMs: welcome.heartbeatTimeoutMs,
    };
    session.registered = true;
    session.registeredAt = Date.now();
    // Batches only as far as both sides take them; 0 from a control plane that predates them.
    session.link.batchItems = Math.min(welcome.maxBatchItems, this.timings.maxBatchItems);
    this.welcome = info;
    this.log.info({ delegateId: info.delegateId, tenantId: info.tenantId }, 'registered');
    if (this.lifecycle.state === 'draining') this.sendDraining(session, 'delegate shutting down');
    else this.lifecycle.moveTo('registered');
    this.emit('registered', info);
    void this.outbox.flush();
    return info;
  }

  /** Proves possession of every group key Hello announced; the control plane publishes none without it. */
  private onKeyChallenge(session: Session, challenge: KeyChallenge): void {
    const keys = (this.options.keyring?.keys ?? []).map((k) =>
      create(KeyPossessionSchema, { keyId: k.keyId, mac: proveKeyPossession(k.privateKey, k.publicKey, challenge.ephemeralPublicKey) }),
    );
    this.send(session, create(DelegateFrameSchema, { frame: { case: 'keyProof', value: { keys } } }));
  }

  private onAssign(session: Session, assign: Assign): void {
    const { taskId, attempt, type } = assign;
    const existing = this.runs.get(taskId);
    if (existing && existing.task.attempt === attempt) {
      // A redelivered Assign (e.g. after a reconnect): acknowledge again, never run twice.
      this.sendAccepted(session, taskId, attempt);
      return;
    }
    // The control plane moved on to a newer attempt; the old run's result would be fenced anyway.
    if (existing && existing.task.attempt < attempt) existing.cancel({ kind: 'superseded' });

    this.sendAccepted(session, taskId, attempt);
    const refuse = (code: string, message: string) => {
      this.log.info({ taskId, attempt, type, code }, 'task refused');
      this.complete({ taskId, attempt, type }, errorOutcome(code, message), 0);
    };
    if (!this.lifecycle.acceptsWork) {
      return refuse(AgentErrorCode.DELEGATE_DRAINING, 'The delegate is shutting down and takes no new tasks.');
    }
    const executor = this.executors.get(type);
    if (!executor) {
      return refuse(
        AgentErrorCode.UNSUPPORTED_TASK_TYPE,
        `This delegate does not run tasks of type "${type}" (it runs: ${this.executors.types().join(', ')}).`,
      );
    }
    if (this.runs.size >= this.timings.maxConcurrency) {
      return refuse(
        AgentErrorCode.DELEGATE_AT_CAPACITY,
        `The delegate is already running its maximum of ${this.timings.maxConcurrency} tasks.`,
      );
    }
    this.runTask(executor, assign);
  }

  private onCancel(cancel: Cancel): void {
    const run = this.runs.get(cancel.taskId);
    // attempt 0 is not a real attempt (they start at 1); treat it as "whichever is running".
    if (!run || (cancel.attempt !== 0 && run.task.attempt !== cancel.attempt)) return;
    this.log.info({ taskId: run.task.taskId, attempt: run.task.attempt }, 'task cancelled by the control plane');
    run.cancel({ kind: 'control-plane', message: cancel.reason });
  }

  private runTask(executor: Executor, assign: Assign): void {
    const run = new TaskRun(executor, assign, {
      log: this.log,
      masker: this.masker,
      policy: this.policy,
      keyring: this.options.keyring,
      tenantId: this.welcome?.tenantId,
    });
    this.runs.set(run.task.taskId, run);
    this.log.info(run.task, 'task started');
    this.emit('taskStarted', run.task);
    void run.finished.then(({ task, outcome, durationMs }) => {
      if (this.runs.get(task.taskId) === run) this.runs.delete(task.taskId);
      this.complete(task, outcome, durationMs);
    });
  }

  /** Masks, queues and (when connected) sends a task's result. */
  private complete(task: TaskInfo, outcome: Result['outcome'], durationMs: number): void {
    maskOutcome(this.masker, outcome);
    this.outbox.add(
      create(ResultSchema, { taskId: task.taskId, attempt: task.attempt, outcome, durationMs: Math.max(0, durationMs) }),
    );
    const code = outcome.case === 'error' ? outcome.value.code : 'SUCCESS';
    this.log.info({ ...task, code, durationMs }, 'task finished');
    this.emit('taskFinished', { ...task, code, durationMs });
    this.notifyChange();
  }

  /**
   * Every task this process holds. Tasks whose results are still queued count as held: listing them
   * stops the control plane from re-queuing work whose result is about to arrive.
   */
  private heldTasks() {
    const held = new Map<string, number>();
    for (const run of this.runs.values()) held.set(run.task.taskId, run.task.attempt);
    for (const ref of this.outbox.held()) held.set(ref.taskId, ref.attempt);
    return [...held].map(([taskId, attempt]) => create(TaskRefSchema, { taskId, attempt }));
  }

  private helloFrame(): DelegateFrame {
    const summary = this.policy.summary();
    return create(DelegateFrameSchema, {
      frame: {
        case: 'hello',
        value: {
          name: this.options.name,
          instanceId: this.instanceId,
          tags: this.tags,
          taskTypes: this.executors.types(),
          maxConcurrency: this.timings.maxConcurrency,
          version: this.options.version ?? packageVersion,
          inFlight: this.heldTasks(),
          publicKeys: (this.options.keyring?.keys ?? []).map((k) => ({ keyId: k.keyId, algorithm: k.algorithm, publicKey: k.publicKey })),
          policy: { allowRefs: summary.allowRefs, allowEndpoints: summary.allowEndpoints, digest: summary.digest },
          maxBatchItems: this.timings.maxBatchItems,
        },
      },
    });
  }

  private sendHeartbeat(session: Session): void {
    const value = { inFlight: this.runs.size, held: this.heldTasks(), listsHeld: true };
    this.send(session, create(DelegateFrameSchema, { frame: { case: 'heartbeat', value } }));
  }

  private sendAccepted(session: Session, taskId: string, attempt: number): void {
    this.outbox.accepted(session.link, taskId, attempt);
  }

  private sendDraining(session: Session, reason: string): void {
    this.send(session, create(DelegateFrameSchema, { frame: { case: 'draining', value: { reason } } }));
  }

  /** Fire-and-forget send: a lost connection is noticed by the session loop, not by each writer. */
  private send(session: Session, frame: DelegateFrame): void {
    session.conn.send(frame).catch((err: unknown) => {
      this.log.debug({ err, frame: frame.frame.case }, 'frame not sent');
    });
  }

  private cancelRuns(reason: CancelReason): void {
    for (const run of this.runs.values()) run.cancel(reason);
  }

  private waitUntil(predicate: () => boolean, timeoutMs: number): Promise<boolean> {
    if (predicate()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!predicate()) return;
        done(true);
      };
      const done = (value: boolean) => {
        clearTimeout(timer);
        this.changeWaiters.delete(check);
        this.off('registered', check);
        resolve(value);
      };
      const timer = setTimeout(() => done(predicate()), timeoutMs);
      this.changeWaiters.add(check);
      this.on('registered', check);
    });
  }

  private notifyChange(): void {
    for (const waiter of [...this.changeWaiters]) waiter();
  }

  private finish(info: AgentStopInfo): void {
    if (!this.lifecycle.canMove('stopped')) return;
    this.wake.abort();
    for (const carrier of this.carriers) carrier.close();
    this.lifecycle.stop(info);
    this.log.info({ ...info }, 'delegate stopped');
    this.emit('stopped', info);
    this.resolveStopped(info);
    this.notifyChange();
  }
}

function isExecutorSource(value: ExecutorSource | Iterable<Executor>): value is ExecutorSource {
  return typeof (value as ExecutorSource).get === 'function' && typeof (value as ExecutorSource).types === 'function';
}

/** Resolves after `ms`, or early when `signal` fires. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
