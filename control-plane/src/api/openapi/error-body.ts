import { z } from 'zod';
import { ErrorCode } from '../../errors.js';

/** The one error shape of the API, `{error: {code, message, details}}`, with the control plane's codes. */
export const errorBodySchema = z
  .object({
    error: z
      .object({
        code: z.enum(Object.values(ErrorCode) as [ErrorCode, ...ErrorCode[]]),
        message: z.string().meta({ description: 'A sentence a person can act on.' }),
        details: z.record(z.string(), z.unknown()).meta({ description: 'Machine-readable context: `issues` for validation errors, ids, limits.' }),
      })
      .strict(),
  })
  .strict()
  .meta({ id: 'Error' });

/**
 * A task that could not do what the request waited for (a policy listing): its error, whose code
 * is the control plane's or the delegate's own (INVALID_CREDENTIALS, MISSING_PERMISSION, ...).
 */
export const taskFailureBodySchema = z
  .object({
    error: z
      .object({
        code: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
        message: z.string(),
        details: z.record(z.string(), z.unknown()).meta({ description: 'Includes `taskId`, the task that failed.' }),
      })
      .strict(),
  })
  .strict()
  .meta({ id: 'TaskFailure' });

/** What each error status means on this API, for the document's response descriptions. */
export const ERROR_STATUS_TEXT: Record<number, string> = {
  400: 'The request is malformed or fails validation (BAD_REQUEST, VALIDATION_FAILED, LITERAL_SECRET_REJECTED, UNSUPPORTED_TASK_TYPE, OIDC_STATE_INVALID, OIDC_REDIRECT_NOT_LOOPBACK, OIDC_CODE_INVALID).',
  401: 'Missing, unknown or no longer valid credentials (UNAUTHENTICATED, SIGN_IN_FAILED, SESSION_EXPIRED, API_KEY_EXPIRED, API_KEY_REVOKED, OIDC_TOKEN_INVALID, OIDC_PROVIDER_ERROR).',
  403: "The credentials may not call this route: a role too low, a suspended tenant, a session request without its CSRF token, a person the tenant's OIDC rules refuse (FORBIDDEN, TENANT_SUSPENDED, CSRF_TOKEN_INVALID, OIDC_EMAIL_NOT_ALLOWED, OIDC_EMAIL_UNVERIFIED, OIDC_ROLE_UNMAPPED, OIDC_USER_DISABLED).",
  404: 'No such resource in this tenant (NOT_FOUND, OIDC_NOT_CONFIGURED).',
  409: 'Conflicts with the current state (CONFLICT, NO_ELIGIBLE_DELEGATE, CANCELLED, LAST_ADMIN, TENANT_REQUIRED).',
  413: 'The request body is too large (PAYLOAD_TOO_LARGE).',
  415: 'The request body is not JSON (BAD_REQUEST).',
  426: 'A WebSocket upgrade is required (UPGRADE_REQUIRED).',
  429: 'Too many requests, failed authentications or sign-ins, or tasks; see Retry-After where given (RATE_LIMITED, AUTH_RATE_LIMITED, SIGN_IN_THROTTLED, QUOTA_EXCEEDED).',
  500: 'An internal error; the control plane logged it (INTERNAL).',
  502: 'A service the control plane calls did not answer or could not be used (OIDC_PROVIDER_UNREACHABLE).',
  503: 'Not ready, or a delegate handshake paced until the time in Retry-After and details.retryAfterMs (NOT_READY, HANDSHAKE_PACED).',
  504: 'Timed out (TIMEOUT).',
};
