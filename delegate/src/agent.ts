import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { create, type JsonObject } from '@bufbuild/protobuf';
import {
  DelegateFrameSchema,
  GoodbyeCode,
  KeyPossessionSchema,
  proveKeyPossession,
  ResultSchema,
  TaskErrorSchema,
  TaskRefSchema,
  type Assign,
  type Cancel,
  type DelegateFrame,
  type Goodbye,
  type KeyChallenge,
  type Result,
  type Welcome,
} from '@attache/proto';
import { Backoff, type BackoffOptions } from './backoff.js';
import { CarrierError, createCarrier, type Carrier, type CarrierConnection } from './carriers/index.js';
import type { ExecutionContext, Executor } from './executors/executor.js';
import { TaskFailure } from './executors/task-failure.js';
import type { Keyring } from './keys/keyring.js';
import { createLogger, type Logger } from './log.js';
import { Masker } from './masking.js';
import { DelegatePolicy } from './policy/delegate-policy.js';

/**
 * The life of a delegate, explicit so that health checks, logs and tests talk about the same thing:
 *
 *   idle ─start()→ connecting ─Welcome→ registered ─stream lost→ reconnecting ─Welcome→ registered
 *                                         │                                       │
 *                              drain() / SIGTERM ───────────→ draining ──────────→ stopped
 *
 * `draining` keeps reconnecting when the stream drops, because results still have to be delivered;
 * `connected` tells whether a registered stream is up right now. Fatal authentication failures and
 * `stop()` go straight to `stopped`.
 */
export type AgentState = 'idle' | 'connecting' | 'registered' | 'reconnecting' | 'draining' | 'stopped';

export interface AgentOptions {
  /**
   * Control-plane URL, or several tried in turn: each failed connect or lost connection moves to the
   * next (with the usual backoff), so a delegate rides out a replica going away. Each scheme picks
   * its carrier (grpc://, grpcs://, ws://, wss://).
   */
  url: string | URL | ReadonlyArray<string | URL>;
  /** Bearer token of this delegate; registered with the masker so it never appears in output. */
  token: string;
  /** Group name (also a tag). */
  name: string;
  tags?: string[];
  /** Tasks run at once. Default 10. */
  maxConcurrency?: number;
  /** PEM trust roots for TLS carriers. */
  ca?: Buffer;
  /**
   * Executors this delegate offers (an `ExecutorRegistry`, e.g. `builtinExecutors()`, or a list);
   * their types go into Hello.
   */
  executors: ExecutorSource | Iterable<Executor>;
  /** How long draining waits for running tasks before cancelling them. Default 30 s. */
  drainGraceMs?: number;
  /** How long draining waits to deliver finished results after the tasks are done. Default 10 s. */
  flushTimeoutMs?: number;
  /** No Welcome within this long: the connection is dropped and retried. Default 10 s. */
  welcomeTimeoutMs?: number;
  /**
   * A registered connection that lasted this long counts as stable and resets the backoff.
   * Default 10 s: a server that welcomes and then drops us at once must not cause a tight loop.
   */
  stableAfterMs?: number;
  backoff?: BackoffOptions;
  /** Defaults to a JSON logger on stdout, masked by `masker`. */
  logger?: Logger;
  /** Shared with the logger so secrets registered by executors vanish from logs too. */
  masker?: Masker;
  /** Random per process by default; the control plane uses it to recognise a reconnect. */
  instanceId?: string;
  /** Reported in Hello. Defaults to this package's version. */
  version?: string;
  /** Injected carrier (tests, custom transports), used instead of `url`; otherwise one per URL. */
  carrier?: Carrier;
  /**
   * The group keys for sealed values. Their public halves go into Hello (the first is the one
   * clients should seal to), which is how the control plane routes sealed work only here.
   */
  keyring?: Keyring;
  /**
   * What this delegate may read and where it may connect (ATTACHE_ALLOW_REFS,
   * ATTACHE_ALLOW_ENDPOINTS), enforced on every task and reported in Hello. Default: the default
   * policy, with this agent's token reserved.
   */
  policy?: DelegatePolicy;
}

/** What the agent needs from an executor registry. */
export interface ExecutorSource {
  get(type: string): Executor | undefined;
  types(): string[];
}

export interface WelcomeInfo {
  delegateId: string;
  tenantId: string;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
}

export interface TaskInfo {
  taskId: string;
  attempt: number;
  type: string;
}

export interface TaskOutcome extends TaskInfo {
  /** 'SUCCESS' or the TaskError code sent to the control plane. */
  code: string;
  durationMs: number;
}

export interface AgentStopInfo {
  /**
   * `drained`: graceful drain; `stopped`: stop() called; `fatal`: the control plane refused the
   * token for good; `misconfigured`: it refused this delegate's own configuration (its name or
   * tags are not allowed for its token), which only a change of configuration fixes.
   */
  reason: 'drained' | 'stopped' | 'fatal' | 'misconfigured';
  /**
   * For `fatal` and `misconfigured`: the Goodbye or carrier status code (TOKEN_REVOKED,
   * UNAUTHENTICATED, PERMISSION_DENIED; GROUP_NOT_ALLOWED, TAGS_NOT_ALLOWED).
   */
  code?: string;
  message?: string;
}

export interface AgentEvents {
  state: [state: AgentState, previous: AgentState];
  registered: [welcome: WelcomeInfo];
  disconnected: [error: Error | undefined];
  taskStarted: [task: TaskInfo];
  taskFinished: [outcome: TaskOutcome];
  stopped: [info: AgentStopInfo];
}

/** The control plane closed the conversation (Goodbye frame). */
export class GoodbyeError extends Error {
  readonly code: string;
  constructor(goodbye: Goodbye) {
    super(`control plane said goodbye: ${goodbye.code}${goodbye.reason ? ` (${goodbye.reason})` : ''}`);
    this.name = 'GoodbyeError';
    this.code = goodbye.code;
  }
}

export class WelcomeTimeoutError extends Error {
  constructor(ms: number) {
    super(`no Welcome within ${ms} ms`);
    this.name = 'WelcomeTimeoutError';
  }
}

/** Goodbye codes after which reconnecting is pointless: the token will not be accepted again. */
const FATAL_GOODBYE_CODES = new Set<string>([GoodbyeCode.TOKEN_REVOKED, GoodbyeCode.UNAUTHENTICATED]);
/** Goodbye codes that refuse the delegate's configuration for its token: reconnecting would be refused the same way. */
const CONFIGURATION_GOODBYE_CODES = new Set<string>([GoodbyeCode.GROUP_NOT_ALLOWED, GoodbyeCode.TAGS_NOT_ALLOWED]);

/** Task error codes produced by the agent itself (executors bring their own). */
export const AgentErrorCode = {
  CANCELLED: 'CANCELLED',
  TIMEOUT: 'TIMEOUT',
  UNSUPPORTED_TASK_TYPE: 'UNSUPPORTED_TASK_TYPE',
  DELEGATE_DRAINING: 'DELEGATE_DRAINING',
  DELEGATE_AT_CAPACITY: 'DELEGATE_AT_CAPACITY',
  INTERNAL: 'INTERNAL',
} as const;

const packageVersion = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Largest delay setTimeout accepts; later deadlines would fire at once otherwise. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Run extends TaskInfo {
  controller: AbortController;
  done: Promise<void>;
}

interface Session {
  conn: CarrierConnection;
  registered: boolean;
  registeredAt: number;
  /** Resolves when the session is over; a write still pending then will never be confirmed. */
  ended: Promise<void>;
}

type SessionEnd = { fatal: AgentStopInfo } | { error: Error | undefined; stable: boolean };

export class Agent extends EventEmitter<AgentEvents> {
  readonly instanceId: string;
  readonly masker: Masker;
  readonly log: Logger;

  private readonly options: AgentOptions;
  private readonly urls: string[];
  private readonly executors: ExecutorSource;
  private readonly tags: string[];
  private readonly maxConcurrency: number;
  private readonly policy: DelegatePolicy;
  private readonly backoff: Backoff;
  /** One per URL, in the configured order; `target` is the one the next session uses. */
  private readonly carriers: Carrier[];
  private target = 0;

  private currentState: AgentState = 'idle';
  private session: Session | undefined;
  private welcome: WelcomeInfo | undefined;
  private readonly runs = new Map<string, Run>();
  /** Finished results not yet handed to a registered connection, oldest first. */
  private readonly outbox: Result[] = [];
  private flushing: Promise<void> = Promise.resolve();
  /** Set once the agent is on its way out; the connect loop stops retrying. */
  private closing = false;
  /** Wakes the connect loop from a backoff sleep. */
  private wake = new AbortController();
  private loop: Promise<void> | undefined;
  private stopInfo: AgentStopInfo | undefined;
  private draining: Promise<AgentStopInfo> | undefined;
  private readonly stoppedPromise: Promise<AgentStopInfo>;
  private resolveStopped!: (info: AgentStopInfo) => void;
  /** Internal change notifications (task finished, result sent) for `waitUntil`. */
  private readonly changeWaiters = new Set<() => void>();

  constructor(options: AgentOptions) {
    super();
    this.options = options;
    this.instanceId = options.instanceId ?? randomUUID();
    this.masker = options.masker ?? new Masker();
    this.masker.register(options.token);
    this.log = (options.logger ?? createLogger({ masker: this.masker })).child({
      delegate: options.name,
      instanceId: this.instanceId,
    });
    this.executors = isExecutorSource(options.executors) ? options.executors : executorMap(options.executors);
    this.tags = [...new Set([options.name, ...(options.tags ?? [])])];
    this.maxConcurrency = options.maxConcurrency ?? 10;
    this.policy = options.policy ?? new DelegatePolicy({ token: options.token });
    this.backoff = new Backoff(options.backoff);
    const urls = typeof options.url === 'string' || options.url instanceof URL ? [options.url] : [...options.url];
    if (!options.carrier && urls.length === 0) throw new Error('at least one control-plane URL is required');
    this.carriers = options.carrier ? [options.carrier] : urls.map((url) => createCarrier(url, { token: options.token, ca: options.ca }));
    this.urls = options.carrier ? [String(options.url)] : urls.map(String);
    this.stoppedPromise = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  get state(): AgentState {
    return this.currentState;
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
    if (this.currentState !== 'idle') throw new Error(`agent already started (state ${this.currentState})`);
    this.log.info({ urls: this.urls, tags: this.tags, taskTypes: this.executors.types() }, 'delegate starting');
    this.setState('connecting');
    this.loop = this.connectLoop().catch((err: unknown) => {
      // A bug in the loop itself: stop rather than leave a delegate that looks alive but is not.
      this.log.error({ err }, 'connect loop failed');
      this.abortRuns('AbortError', 'the delegate failed');
      this.finish({ reason: 'stopped', code: 'INTERNAL', message: 'connect loop failed' });
    });
  }

  /** Resolves when the agent reaches `state` (at once if it is there), or rejects after `timeoutMs`. */
  waitFor(state: AgentState, timeoutMs = 30_000): Promise<void> {
    if (this.currentState === state) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onState = (next: AgentState) => {
        if (next !== state) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`agent did not reach ${state} within ${timeoutMs} ms (state ${this.currentState})`));
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
   */
  drain(reason = 'delegate shutting down'): Promise<AgentStopInfo> {
    if (this.stopInfo) return Promise.resolve(this.stopInfo);
    this.draining ??= this.runDrain(reason);
    return this.draining;
  }

  /** Immediate shutdown: cancels running tasks, drops undelivered results, closes the stream. */
  async stop(): Promise<AgentStopInfo> {
    if (this.stopInfo) return this.stopInfo;
    this.closing = true;
    this.abortRuns('AbortError', 'the delegate is stopping');
    this.session?.conn.abort();
    this.wake.abort();
    await this.loop;
    this.finish({ reason: 'stopped' });
    return this.stoppedPromise;
  }

  private async runDrain(reason: string): Promise<AgentStopInfo> {
    if (this.currentState === 'idle') {
      this.finish({ reason: 'drained' });
      return this.stoppedPromise;
    }
    const graceMs = this.options.drainGraceMs ?? 30_000;
    this.setState('draining');
    this.log.info({ inFlight: this.runs.size, graceMs, reason }, 'draining');
    if (this.session?.registered) this.sendDraining(this.session, reason);

    const stopped = () => this.stopInfo !== undefined;
    if (!(await this.waitUntil(() => this.runs.size === 0 || stopped(), graceMs))) {
      this.log.warn({ inFlight: this.runs.size }, 'drain grace period elapsed; cancelling running tasks');
      this.abortRuns('AbortError', 'the delegate drain grace period elapsed');
      // Runs settle as soon as their signal fires (see runTask), so this wait is short.
      await this.waitUntil(() => this.runs.size === 0 || stopped(), 5_000);
    }

    const flushMs = this.options.flushTimeoutMs ?? 10_000;
    if (!(await this.waitUntil(() => this.outbox.length === 0 || stopped(), flushMs))) {
      this.log.warn({ undelivered: this.outbox.length }, 'results could not be delivered before shutdown');
    }

    if (this.stopInfo) return this.stopInfo;
    this.closing = true;
    this.wake.abort();
    const session = this.session;
    if (session && !session.registered) {
      session.conn.abort();
      await this.loop;
    } else if (session) {
      // Half-close so the server sees a clean end of stream; cut it if the server does not follow.
      session.conn.close();
      const timer = setTimeout(() => session.conn.abort(), 2_000);
      await this.loop;
      clearTimeout(timer);
    } else {
      await this.loop;
    }
    this.finish({ reason: 'drained' });
    return this.stoppedPromise;
  }

  private async connectLoop(): Promise<void> {
    while (!this.closing) {
      const end = await this.runSession();
      if ('fatal' in end) {
        this.log.error({ code: end.fatal.code, reason: end.fatal.message }, 'control plane refused this delegate; not reconnecting');
        this.closing = true;
        this.abortRuns('AbortError', 'the control plane refused this delegate');
        this.finish(end.fatal);
        return;
      }
      if (this.closing) return;
      if (end.stable) this.backoff.reset();
      const delayMs = this.backoff.next();
      // Rotate on every failure: the URL that just failed (a replica that went away) is tried
      // again only after the others have had their turn.
      this.target = (this.target + 1) % this.carriers.length;
      this.log.warn({ err: end.error, delayMs, next: this.urls[this.target] }, 'disconnected; reconnecting');
      if (this.currentState !== 'draining') this.setState('reconnecting');
      await sleep(delayMs, this.wake.signal);
    }
  }

  private async runSession(): Promise<SessionEnd> {
    const conn = this.carriers[this.target]!.open();
    let markEnded!: () => void;
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    const session: Session = { conn, registered: false, registeredAt: 0, ended };
    this.session = session;
    const welcomeTimeoutMs = this.options.welcomeTimeoutMs ?? 10_000;
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
    const stable = session.registered && Date.now() - session.registeredAt >= (this.options.stableAfterMs ?? 10_000);
    return { error, stable };
  }

  private onWelcome(session: Session, welcome: Welcome): WelcomeInfo {
    // A zero interval would mean a hot loop; 10 s matches what the control plane uses by default.
    const info: WelcomeInfo = {
      delegateId: welcome.delegateId,
      tenantId: welcome.tenantId,
      heartbeatIntervalMs: welcome.heartbeatIntervalMs > 0 ? Math.max(welcome.heartbeatIntervalMs, 50) : 10_000,
      heartbeatTimeoutMs: welcome.heartbeatTimeoutMs,
    };
    session.registered = true;
    session.registeredAt = Date.now();
    this.welcome = info;
    this.log.info({ delegateId: info.delegateId, tenantId: info.tenantId }, 'registered');
    if (this.currentState === 'draining') this.sendDraining(session, 'delegate shutting down');
    else this.setState('registered');
    this.emit('registered', info);
    this.flush();
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
    if (existing && existing.attempt === attempt) {
      // A redelivered Assign (e.g. after a reconnect): acknowledge again, never run twice.
      this.sendAccepted(session, taskId, attempt);
      return;
    }
    if (existing && existing.attempt < attempt) {
      // The control plane moved on to a newer attempt; the old run's result would be fenced anyway.
      existing.controller.abort(namedError('AbortError', 'superseded by a newer attempt'));
    }

    this.sendAccepted(session, taskId, attempt);
    const refuse = (code: string, message: string) => {
      this.log.info({ taskId, attempt, type, code }, 'task refused');
      this.complete({ taskId, attempt, type }, errorOutcome(code, message), 0);
    };
    if (this.currentState === 'draining' || this.closing) {
      return refuse(AgentErrorCode.DELEGATE_DRAINING, 'The delegate is shutting down and takes no new tasks.');
    }
    const executor = this.executors.get(type);
    if (!executor) {
      return refuse(
        AgentErrorCode.UNSUPPORTED_TASK_TYPE,
        `This delegate does not run tasks of type "${type}" (it runs: ${this.executors.types().join(', ')}).`,
      );
    }
    if (this.runs.size >= this.maxConcurrency) {
      return refuse(
        AgentErrorCode.DELEGATE_AT_CAPACITY,
        `The delegate is already running its maximum of ${this.maxConcurrency} tasks.`,
      );
    }
    this.runTask(executor, assign);
  }

  private onCancel(cancel: Cancel): void {
    const run = this.runs.get(cancel.taskId);
    // attempt 0 is not a real attempt (they start at 1); treat it as "whichever is running".
    if (!run || (cancel.attempt !== 0 && run.attempt !== cancel.attempt)) return;
    this.log.info({ taskId: run.taskId, attempt: run.attempt }, 'task cancelled by the control plane');
    run.controller.abort(namedError('AbortError', cancel.reason || 'cancelled by the control plane'));
  }

  private runTask(executor: Executor, assign: Assign): void {
    const task: TaskInfo = { taskId: assign.taskId, attempt: assign.attempt, type: assign.type };
    const controller = new AbortController();
    const deadlineMs = Number(assign.deadlineUnixMs);
    let deadlineTimer: NodeJS.Timeout | undefined;
    if (deadlineMs > 0) {
      const onDeadline = () => controller.abort(namedError('TimeoutError', 'the task deadline passed'));
      const remaining = deadlineMs - Date.now();
      if (remaining <= 0) onDeadline();
      else deadlineTimer = setTimeout(onDeadline, Math.min(remaining, MAX_TIMER_MS));
    }
    // What this attempt resolves stays masked while it runs and for a bounded time after (masking.ts).
    const secrets = this.masker.openScope();
    const ctx: ExecutionContext = {
      taskId: task.taskId,
      attempt: task.attempt,
      deadline: new Date(deadlineMs > 0 ? deadlineMs : 8.64e15),
      signal: controller.signal,
      log: this.log.child({ taskId: task.taskId, attempt: task.attempt, type: task.type }),
      registerSecret: (value) => secrets.register(value),
      tenantId: this.welcome?.tenantId,
      keyring: this.options.keyring,
      policy: this.policy,
    };
    // Settle as soon as the signal fires even if the executor ignores it: the control plane gets its
    // CANCELLED/TIMEOUT promptly and drain cannot hang on a misbehaving executor.
    const aborted = new Promise<never>((_, reject) => {
      if (controller.signal.aborted) reject(controller.signal.reason);
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason), { once: true });
    });
    const started = performance.now();
    const done = (async () => {
      let outcome: Result['outcome'];
      try {
        const bytes = await Promise.race([Promise.resolve().then(() => executor.run(assign.payload, ctx)), aborted]);
        outcome = this.masker.containsSecret(bytes)
          ? errorOutcome(AgentErrorCode.INTERNAL, 'The task result was withheld because it contained secret material.')
          : { case: 'success', value: bytes };
        if (outcome.case === 'error') ctx.log.error('executor returned secret material in its result');
      } catch (err) {
        outcome = this.failureOutcome(err, controller.signal, ctx.log);
      } finally {
        clearTimeout(deadlineTimer);
      }
      if (this.runs.get(task.taskId)?.controller === controller) this.runs.delete(task.taskId);
      this.complete(task, outcome, Math.round(performance.now() - started));
      secrets.end();
    })();
    this.runs.set(task.taskId, { ...task, controller, done });
    this.log.info(task, 'task started');
    this.emit('taskStarted', task);
  }

  private failureOutcome(err: unknown, signal: AbortSignal, log: Logger): Result['outcome'] {
    if (signal.aborted) {
      const reason = signal.reason as Error | undefined;
      if (reason?.name === 'TimeoutError') {
        return errorOutcome(AgentErrorCode.TIMEOUT, 'The task did not finish before its deadline.');
      }
      return errorOutcome(AgentErrorCode.CANCELLED, `The task was cancelled: ${reason?.message ?? 'no reason given'}.`);
    }
    if (err instanceof TaskFailure) return errorOutcome(err.code, err.message, err.details);
    // Unexpected errors may carry anything (stack traces, SDK dumps); only the logs get the detail.
    log.error({ err }, 'executor failed unexpectedly');
    const kind = err instanceof Error ? err.name : typeof err;
    return errorOutcome(AgentErrorCode.INTERNAL, `The executor failed unexpectedly (${kind}); see the delegate's logs.`);
  }

  /** Masks, queues and (when connected) sends a task's result. */
  private complete(task: TaskInfo, outcome: Result['outcome'], durationMs: number): void {
    if (outcome.case === 'error') {
      const e = outcome.value;
      e.message = this.masker.mask(e.message);
      if (e.details) e.details = this.masker.maskDeep(e.details);
    }
    this.outbox.push(
      create(ResultSchema, { taskId: task.taskId, attempt: task.attempt, outcome, durationMs: Math.max(0, durationMs) }),
    );
    const code = outcome.case === 'error' ? outcome.value.code : 'SUCCESS';
    this.log.info({ ...task, code, durationMs }, 'task finished');
    this.emit('taskFinished', { ...task, code, durationMs });
    this.flush();
    this.notifyChange();
  }

  /** Sends queued results in order, one writer at a time; whatever fails stays for the next Welcome. */
  private flush(): void {
    this.flushing = this.flushing.then(async () => {
      while (this.outbox.length > 0) {
        const session = this.session;
        const result = this.outbox[0];
        if (!session?.registered || !result) return;
        const frame = create(DelegateFrameSchema, { frame: { case: 'result', value: result } });
        const lost = session.ended.then(() => Promise.reject(new Error('connection lost during write')));
        try {
          await Promise.race([session.conn.send(frame), lost]);
        } catch {
          // Kept at the head of the outbox; the next Welcome triggers another flush.
          return;
        }
        this.outbox.shift();
        this.notifyChange();
      }
    });
  }

  /**
   * Every task this process holds. Tasks whose results are still queued count as held: listing them
   * stops the control plane from re-queuing work whose result is about to arrive.
   */
  private heldTasks() {
    const held = new Map<string, number>();
    for (const run of this.runs.values()) held.set(run.taskId, run.attempt);
    for (const result of this.outbox) held.set(result.taskId, result.attempt);
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
          maxConcurrency: this.maxConcurrency,
          version: this.options.version ?? packageVersion,
          inFlight: this.heldTasks(),
          publicKeys: (this.options.keyring?.keys ?? []).map((k) => ({ keyId: k.keyId, algorithm: k.algorithm, publicKey: k.publicKey })),
          policy: { allowRefs: summary.allowRefs, allowEndpoints: summary.allowEndpoints, digest: summary.digest },
        },
      },
    });
  }

  private sendHeartbeat(session: Session): void {
    const value = { inFlight: this.runs.size, held: this.heldTasks(), listsHeld: true };
    this.send(session, create(DelegateFrameSchema, { frame: { case: 'heartbeat', value } }));
  }

  private sendAccepted(session: Session, taskId: string, attempt: number): void {
    this.send(session, create(DelegateFrameSchema, { frame: { case: 'accepted', value: { taskId, attempt } } }));
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

  private abortRuns(name: 'AbortError' | 'TimeoutError', message: string): void {
    for (const run of this.runs.values()) run.controller.abort(namedError(name, message));
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

  private setState(next: AgentState): void {
    const previous = this.currentState;
    if (previous === next || previous === 'stopped') return;
    this.currentState = next;
    this.log.debug({ from: previous, to: next }, 'state');
    this.emit('state', next, previous);
  }

  private finish(info: AgentStopInfo): void {
    if (this.stopInfo) return;
    this.stopInfo = info;
    this.closing = true;
    this.wake.abort();
    for (const carrier of this.carriers) carrier.close();
    this.setState('stopped');
    this.log.info({ ...info }, 'delegate stopped');
    this.emit('stopped', info);
    this.resolveStopped(info);
    this.notifyChange();
  }
}

function isExecutorSource(value: ExecutorSource | Iterable<Executor>): value is ExecutorSource {
  return typeof (value as ExecutorSource).get === 'function' && typeof (value as ExecutorSource).types === 'function';
}

function executorMap(executors: Iterable<Executor>): ExecutorSource {
  const byType = new Map<string, Executor>();
  for (const executor of executors) {
    if (byType.has(executor.type)) throw new Error(`executor for task type "${executor.type}" given twice`);
    byType.set(executor.type, executor);
  }
  return { get: (type) => byType.get(type), types: () => [...byType.keys()].sort() };
}

function namedError(name: 'AbortError' | 'TimeoutError', message: string): Error {
  const error = new Error(message);
  error.name = name;
  return error;
}

function errorOutcome(code: string, message: string, details?: Record<string, unknown>): Result['outcome'] {
  return {
    case: 'error',
    value: create(TaskErrorSchema, { code, message, details: details ? toJsonObject(details) : undefined }),
  };
}

/** Struct fields take JSON only; bigints become strings and functions/undefined disappear. */
function toJsonObject(value: Record<string, unknown>): JsonObject {
  try {
    return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as JsonObject;
  } catch {
    return { note: 'details were not serialisable' };
  }
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
