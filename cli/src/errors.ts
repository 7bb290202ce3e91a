import { ExitCode } from './exit-codes.js';

/**
 * A failure the CLI reports as `error: CODE: sentence` and exits with. `code` is the API's own code
 * when the API answered (NOT_FOUND, INVALID_CREDENTIALS, ...), else one of the CLI's below.
 */
export class CliError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly details: Record<string, unknown>;

  constructor(code: string, message: string, exitCode: ExitCode, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
    this.exitCode = exitCode;
    this.details = details;
  }
}

/** The CLI's own codes, for failures that happen before or without an API answer. */
export const CliErrorCode = {
  USAGE: 'USAGE',
  NOT_LOGGED_IN: 'NOT_LOGGED_IN',
  CONFIG_INVALID: 'CONFIG_INVALID',
  CONTEXT_NOT_FOUND: 'CONTEXT_NOT_FOUND',
  AMBIGUOUS_NAME: 'AMBIGUOUS_NAME',
  NOT_FOUND: 'NOT_FOUND',
  UNREACHABLE: 'UNREACHABLE',
  BAD_RESPONSE: 'BAD_RESPONSE',
  FILE_UNREADABLE: 'FILE_UNREADABLE',
  NOT_SUPPORTED: 'NOT_SUPPORTED',
  /** A browser sign-in's callback carried another state than the one this process started with. */
  STATE_MISMATCH: 'STATE_MISMATCH',
  SIGN_IN_TIMEOUT: 'SIGN_IN_TIMEOUT',
  SIGN_IN_REFUSED: 'SIGN_IN_REFUSED',
} as const;

export const usageError = (message: string, details: Record<string, unknown> = {}): CliError =>
  new CliError(CliErrorCode.USAGE, message, ExitCode.USAGE, details);

/** An error answer of the API: `{"error": {"code", "message", "details"}}` with its HTTP status. */
export class ApiError extends CliError {
  readonly status: number;

  constructor(status: number, code: string, message: string, details: Record<string, unknown> = {}) {
    super(code, message, exitCodeForStatus(status), details);
    this.name = 'ApiError';
    this.status = status;
  }
}

export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return ExitCode.AUTH;
  if (status === 404) return ExitCode.NOT_FOUND;
  return ExitCode.FAILURE;
}
