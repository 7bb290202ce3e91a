/**
 * A task's own failure, reported to the control plane as `TaskError{code, message, details}`.
 * `message` must be a sentence a person can act on and must never contain secret material.
 */
export class TaskFailure extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TaskFailure';
    this.code = code;
    this.details = details;
  }
}
