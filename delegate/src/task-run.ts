import { create, type JsonObject } from '@bufbuild/protobuf';
import { TaskErrorSchema, type Assign, type Result } from '@attache/proto';
import { AgentErrorCode } from './errors.js';
import type { ExecutionContext, Executor } from './executors/executor.js';
import { TaskFailure } from './executors/task-failure.js';
import type { Keyring } from './keys/keyring.js';
import type { Logger } from './log.js';
import type { Masker } from './masking.js';
import type { DelegatePolicy } from './policy/delegate-policy.js';

export interface TaskInfo {
  taskId: string;
  attempt: number;
  type: string;
}

/**
 * Why a run was cut short. The first reason wins: a Cancel that arrives after the deadline fired
 * does not turn a TIMEOUT into CANCELLED.
 */
export type CancelReason =
  /** The task's deadline passed: reported as TIMEOUT. */
  | { kind: 'deadline' }
  /** The control plane sent Cancel; `message` is its reason. */
  | { kind: 'control-plane'; message: string }
  /** The control plane assigned a newer attempt of the same task; this one's result would be fenced. */
  | { kind: 'superseded' }
  /** The drain grace period ended with the task still running. */
  | { kind: 'drain-grace' }
  /** stop() was called. */
  | { kind: 'stopping' }
  /** The control plane refused this delegate for good (revoked token, refused configuration). */
  | { kind: 'refused' }
  /** The agent itself failed and is stopping. */
  | { kind: 'agent-failed' };

const CANCEL_MESSAGES: Record<Exclude<CancelReason['kind'], 'deadline' | 'control-plane'>, string> = {
  superseded: 'superseded by a newer attempt',
  'drain-grace': 'the delegate drain grace period elapsed',
  stopping: 'the delegate is stopping',
  refused: 'the control plane refused this delegate',
  'agent-failed': 'the delegate failed',
};

/** The sentence of a cancel reason, as it appears in the task's CANCELLED message. */
export function describeCancel(reason: CancelReason): string {
  if (reason.kind === 'deadline') return 'the task deadline passed';
  if (reason.kind === 'control-plane') return reason.message || 'cancelled by the control plane';
  return CANCEL_MESSAGES[reason.kind];
}

/** What a run needs from the agent: where to log, what to mask, what the task may touch. */
export interface TaskRunEnvironment {
  log: Logger;
  masker: Masker;
  policy: DelegatePolicy;
  keyring?: Keyring;
  tenantId?: string;
}

export interface TaskRunResult {
  task: TaskInfo;
  outcome: Result['outcome'];
  durationMs: number;
}

/** Largest delay setTimeout accepts; later deadlines would fire at once otherwise. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * One execution of one task attempt: the executor's promise, its deadline, its cancel reason and
 * its outcome. It settles as soon as it is cancelled even if the executor ignores its signal, so the
 * control plane gets its CANCELLED/TIMEOUT promptly and drain cannot hang on a misbehaving executor.
 */
export class TaskRun {
  readonly task: TaskInfo;
  /** Resolves once with the outcome; never rejects (an executor's failure is an outcome). */
  readonly finished: Promise<TaskRunResult>;
  private readonly controller = new AbortController();
  private reason: CancelReason | undefined;

  constructor(executor: Executor, assign: Assign, env: TaskRunEnvironment) {
    this.task = { taskId: assign.taskId, attempt: assign.attempt, type: assign.type };
    this.finished = this.run(executor, assign, env);
  }

  /** Why the run was cut short, if it was. */
  get cancelReason(): CancelReason | undefined {
    return this.reason;
  }

  /** Cuts the run short; the first reason is the one reported. */
  cancel(reason: CancelReason): void {
    if (this.reason) return;
    this.reason = reason;
    const error = new Error(describeCancel(reason));
    // Executors (aws/error-map.ts) tell a deadline from a cancel by the signal reason's name.
    error.name = reason.kind === 'deadline' ? 'TimeoutError' : 'AbortError';
    this.controller.abort(error);
  }

  private async run(executor: Executor, assign: Assign, env: TaskRunEnvironment): Promise<TaskRunResult> {
    const { signal } = this.controller;
    const deadlineMs = Number(assign.deadlineUnixMs);
    let deadlineTimer: NodeJS.Timeout | undefined;
    if (deadlineMs > 0) {
      const remaining = deadlineMs - Date.now();
      if (remaining <= 0) this.cancel({ kind: 'deadline' });
      else deadlineTimer = setTimeout(() => this.cancel({ kind: 'deadline' }), Math.min(remaining, MAX_TIMER_MS));
    }
    // What this attempt resolves stays masked while it runs and for a bounded time after (masking.ts).
    const secrets = env.masker.openScope();
    const ctx: ExecutionContext = {
      taskId: this.task.taskId,
      attempt: this.task.attempt,
      deadline: new Date(deadlineMs > 0 ? deadlineMs : 8.64e15),
      signal,
      log: env.log.child({ ...this.task }),
      registerSecret: (value) => secrets.register(value),
      tenantId: env.tenantId,
      keyring: env.keyring,
      policy: env.policy,
    };
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
    const started = performance.now();
    let outcome: Result['outcome'];
    try {
      const bytes = await Promise.race([Promise.resolve().then(() => executor.run(assign.payload, ctx)), aborted]);
      if (env.masker.containsSecret(bytes)) {
        ctx.log.error('executor returned secret material in its result');
        outcome = errorOutcome(AgentErrorCode.INTERNAL, 'The task result was withheld because it contained secret material.');
      } else {
        outcome = { case: 'success', value: bytes };
      }
    } catch (err) {
      outcome = this.failureOutcome(err, ctx.log);
    } finally {
      clearTimeout(deadlineTimer);
    }
    const durationMs = Math.round(performance.now() - started);
    // Masked while this attempt's secrets are still registered, then the scope may end.
    maskOutcome(env.masker, outcome);
    secrets.end();
    return { task: this.task, outcome, durationMs };
  }

  private failureOutcome(err: unknown, log: Logger): Result['outcome'] {
    if (this.reason) {
      if (this.reason.kind === 'deadline') return errorOutcome(AgentErrorCode.TIMEOUT, 'The task did not finish before its deadline.');
      return errorOutcome(AgentErrorCode.CANCELLED, `The task was cancelled: ${describeCancel(this.reason)}.`);
    }
    if (err instanceof TaskFailure) return errorOutcome(err.code, err.message, err.details);
    // Unexpected errors may carry anything (stack traces, SDK dumps); only the logs get the detail.
    log.error({ err }, 'executor failed unexpectedly');
    const kind = err instanceof Error ? err.name : typeof err;
    return errorOutcome(AgentErrorCode.INTERNAL, `The executor failed unexpectedly (${kind}); see the delegate's logs.`);
  }
}

/** Masks what an error outcome says (message, details) in place; a success is the executor's own bytes, checked in run(). */
export function maskOutcome(masker: Masker, outcome: Result['outcome']): void {
  if (outcome.case !== 'error') return;
  const e = outcome.value;
  e.message = masker.mask(e.message);
  if (e.details) e.details = masker.maskDeep(e.details);
}

/** A TaskError outcome; `details` are made JSON-safe for the Struct field. */
export function errorOutcome(code: string, message: string, details?: Record<string, unknown>): Result['outcome'] {
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
