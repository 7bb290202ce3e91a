import { batchTooLargeMessage, type Goodbye } from '@attache/proto';

/**
 * The delegate's own errors: each a named class with a stable `code` and a sentence a person can
 * act on. Carrier failures are `CarrierError` (carriers/carrier.ts); an executor's failure of a
 * task is `TaskFailure` (executors/task-failure.ts).
 */
export abstract class DelegateError extends Error {
  abstract readonly code: string;
}

/** Task error codes produced by the agent itself (executors bring their own). */
export const AgentErrorCode = {
  CANCELLED: 'CANCELLED',
  TIMEOUT: 'TIMEOUT',
  UNSUPPORTED_TASK_TYPE: 'UNSUPPORTED_TASK_TYPE',
  DELEGATE_DRAINING: 'DELEGATE_DRAINING',
  DELEGATE_AT_CAPACITY: 'DELEGATE_AT_CAPACITY',
  INTERNAL: 'INTERNAL',
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

/** The control plane closed the conversation (Goodbye frame); `code` is its Goodbye code. */
export class GoodbyeError extends DelegateError {
  readonly code: string;
  /** The control plane's hint (Goodbye.retry_after_ms) of when to connect again; 0 when it gave none. */
  readonly retryAfterMs: number;
  constructor(goodbye: Goodbye) {
    super(`control plane said goodbye: ${goodbye.code}${goodbye.reason ? ` (${goodbye.reason})` : ''}`);
    this.name = 'GoodbyeError';
    this.code = goodbye.code;
    this.retryAfterMs = goodbye.retryAfterMs;
  }
}

/** The control plane accepted the connection but sent no Welcome in time; the agent reconnects. */
export class WelcomeTimeoutError extends DelegateError {
  readonly code = 'WELCOME_TIMEOUT';
  constructor(ms: number) {
    super(`no Welcome within ${ms} ms`);
    this.name = 'WelcomeTimeoutError';
  }
}

/**
 * The control plane sent an AssignBatch with more assignments than this delegate's Hello announced
 * (max_batch_items): the connection is dropped without taking any of them, and the agent reconnects.
 */
export class BatchTooLargeError extends DelegateError {
  readonly code = 'BATCH_TOO_LARGE';
  constructor(items: number, limit: number) {
    super(batchTooLargeMessage('AssignBatch', items, limit));
    this.name = 'BatchTooLargeError';
  }
}

/** A method was called in a state that does not allow it (start() twice, for instance). */
export class AgentStateError extends DelegateError {
  readonly code = 'INVALID_AGENT_STATE';
  constructor(message: string) {
    super(message);
    this.name = 'AgentStateError';
  }
}

/** The agent's options are unusable as given (no URL, an executor offered twice). */
export class AgentConfigurationError extends DelegateError {
  readonly code: 'NO_CONTROL_PLANE_URL' | 'DUPLICATE_EXECUTOR';
  constructor(code: AgentConfigurationError['code'], message: string) {
    super(message);
    this.name = 'AgentConfigurationError';
    this.code = code;
  }
}
