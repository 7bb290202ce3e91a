/**
 * Stable error codes of the control plane's API. The same codes appear in task errors returned by
 * delegates (INVALID_CREDENTIALS, ...), so a client can handle both with one switch.
 */
export const ErrorCode = {
  BAD_REQUEST: 'BAD_REQUEST',
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  LITERAL_SECRET_REJECTED: 'LITERAL_SECRET_REJECTED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  RATE_LIMITED: 'RATE_LIMITED',
  AUTH_RATE_LIMITED: 'AUTH_RATE_LIMITED',
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  /** A delegate's handshake step (NATS credentials) refused by admission pacing; retry after `details.retryAfterMs`. */
  HANDSHAKE_PACED: 'HANDSHAKE_PACED',
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  UNSUPPORTED_TASK_TYPE: 'UNSUPPORTED_TASK_TYPE',
  NO_ELIGIBLE_DELEGATE: 'NO_ELIGIBLE_DELEGATE',
  DELEGATE_LOST: 'DELEGATE_LOST',
  TIMEOUT: 'TIMEOUT',
  CANCELLED: 'CANCELLED',
  NOT_READY: 'NOT_READY',
  UPGRADE_REQUIRED: 'UPGRADE_REQUIRED',
  INTERNAL: 'INTERNAL',
  // People and programs (identity/, api/access/)
  SIGN_IN_FAILED: 'SIGN_IN_FAILED',
  SIGN_IN_THROTTLED: 'SIGN_IN_THROTTLED',
  TENANT_REQUIRED: 'TENANT_REQUIRED',
  SESSION_EXPIRED: 'SESSION_EXPIRED',
  CSRF_TOKEN_INVALID: 'CSRF_TOKEN_INVALID',
  API_KEY_EXPIRED: 'API_KEY_EXPIRED',
  API_KEY_REVOKED: 'API_KEY_REVOKED',
  TENANT_SUSPENDED: 'TENANT_SUSPENDED',
  LAST_ADMIN: 'LAST_ADMIN',
  // OIDC sign-in (identity/oidc-*.ts)
  OIDC_NOT_CONFIGURED: 'OIDC_NOT_CONFIGURED',
  OIDC_PROVIDER_UNREACHABLE: 'OIDC_PROVIDER_UNREACHABLE',
  OIDC_STATE_INVALID: 'OIDC_STATE_INVALID',
  OIDC_PROVIDER_ERROR: 'OIDC_PROVIDER_ERROR',
  OIDC_TOKEN_INVALID: 'OIDC_TOKEN_INVALID',
  OIDC_EMAIL_NOT_ALLOWED: 'OIDC_EMAIL_NOT_ALLOWED',
  OIDC_EMAIL_UNVERIFIED: 'OIDC_EMAIL_UNVERIFIED',
  OIDC_ROLE_UNMAPPED: 'OIDC_ROLE_UNMAPPED',
  OIDC_USER_DISABLED: 'OIDC_USER_DISABLED',
  // CLI sign-in through the browser (identity/cli-sign-in.ts)
  OIDC_REDIRECT_NOT_LOOPBACK: 'OIDC_REDIRECT_NOT_LOOPBACK',
  OIDC_CODE_INVALID: 'OIDC_CODE_INVALID',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  LITERAL_SECRET_REJECTED: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  AUTH_RATE_LIMITED: 429,
  QUOTA_EXCEEDED: 429,
  RESOURCE_EXHAUSTED: 429,
  HANDSHAKE_PACED: 503,
  BATCH_TOO_LARGE: 400,
  UNSUPPORTED_TASK_TYPE: 400,
  NO_ELIGIBLE_DELEGATE: 409,
  DELEGATE_LOST: 500,
  TIMEOUT: 504,
  CANCELLED: 409,
  NOT_READY: 503,
  UPGRADE_REQUIRED: 426,
  INTERNAL: 500,
  SIGN_IN_FAILED: 401,
  SIGN_IN_THROTTLED: 429,
  TENANT_REQUIRED: 409,
  SESSION_EXPIRED: 401,
  CSRF_TOKEN_INVALID: 403,
  API_KEY_EXPIRED: 401,
  API_KEY_REVOKED: 401,
  TENANT_SUSPENDED: 403,
  LAST_ADMIN: 409,
  OIDC_NOT_CONFIGURED: 404,
  OIDC_PROVIDER_UNREACHABLE: 502,
  OIDC_STATE_INVALID: 400,
  OIDC_PROVIDER_ERROR: 401,
  OIDC_TOKEN_INVALID: 401,
  OIDC_EMAIL_NOT_ALLOWED: 403,
  OIDC_EMAIL_UNVERIFIED: 403,
  OIDC_ROLE_UNMAPPED: 403,
  OIDC_USER_DISABLED: 403,
  OIDC_REDIRECT_NOT_LOOPBACK: 400,
  OIDC_CODE_INVALID: 400,
};

/** A failure with a stable code, an HTTP status and a message a person can act on. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AppError';
    this.code = code;
    this.status = STATUS[code];
    this.details = details;
  }

  toJSON(): { code: string; message: string; details: Record<string, unknown> } {
    return { code: this.code, message: this.message, details: this.details };
  }
}

export const notFound = (what: string, id: string): AppError =>
  new AppError(ErrorCode.NOT_FOUND, `No ${what} with id "${id}" exists in this tenant.`, { id });
