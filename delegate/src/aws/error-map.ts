import { TaskFailure } from '../executors/task-failure.js';
import { ProxyTunnelError } from './https-agent.js';

/**
 * Turns whatever an AWS call threw (service exceptions, Node network and TLS errors, SDK timeouts,
 * aborts) into a `TaskFailure` with a stable code and a sentence an operator can act on. Messages
 * name endpoints, ARNs and actions, never credential material.
 */

/**
 * The steps of a validation (and of the tasks that share its credentials, such as aws.listPolicies),
 * named by the IAM action they need where there is one.
 */
export type ValidationStep =
  | 'credentials'
  | 'sts:AssumeRoleWithWebIdentity'
  | 'scap:GetTemporaryCredentials'
  | 'sts:AssumeRole'
  | 'sts:GetCallerIdentity'
  | 'ec2:DescribeRegions'
  | 'iam:ListPolicies';

export type AwsFailureCode =
  | 'INVALID_CREDENTIALS'
  | 'EXPIRED_CREDENTIALS'
  | 'NO_CREDENTIALS'
  | 'ASSUME_ROLE_DENIED'
  | 'MISSING_PERMISSION'
  | 'REGION_DISABLED'
  | 'ENDPOINT_UNREACHABLE'
  | 'TLS_UNTRUSTED'
  | 'PARTITION_MISMATCH'
  | 'SCAP_DENIED'
  | 'TIMEOUT'
  | 'CANCELLED'
  | 'AWS_ERROR';

export interface ErrorContext {
  readonly step: ValidationStep;
  /** The task's signal: when it has fired, its reason (deadline or cancel) explains the failure. */
  readonly signal: AbortSignal;
  /** Where the failing request went, when known. */
  readonly endpoint?: string | undefined;
  /** Describes the credentials in use, e.g. "the static keys behind env:AWS_KEY". */
  readonly credentialsDescription?: string | undefined;
  readonly roleArn?: string | undefined;
  /** The caller's ARN once GetCallerIdentity answered; permission messages name it. */
  readonly principalArn?: string | undefined;
  readonly region?: string | undefined;
  /** Whether the account's caBundle was the trust store, so TLS failures say what to change. */
  readonly caBundle?: boolean | undefined;
}

const INVALID_CREDENTIAL_CODES = new Set([
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'AuthFailure',
  'UnrecognizedClientException',
  'IncompleteSignature',
  'InvalidAccessKeyId',
  'InvalidToken',
  'MissingAuthenticationToken',
  'InvalidIdentityToken',
]);
const EXPIRED_CODES = new Set(['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired']);
// AWS answers a missing permission with UnauthorizedOperation on EC2 and AccessDenied elsewhere; moto says AccessDenied everywhere.
const DENIED_CODES = new Set(['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'UnauthorizedAccess', 'AuthorizationError']);
const REGION_DISABLED_CODES = new Set(['RegionDisabledException', 'OptInRequired', 'InvalidRegion']);

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EPROTO',
]);
const TLS_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'HOSTNAME_MISMATCH',
]);

interface ServiceErrorShape {
  name: string;
  message: string;
  Code?: string;
  $fault?: string;
  $metadata: { httpStatusCode?: number; requestId?: string };
}

export function toTaskFailure(error: unknown, ctx: ErrorContext): TaskFailure {
  if (error instanceof TaskFailure) return error;
  const base = { step: ctx.step, ...(ctx.endpoint ? { endpoint: ctx.endpoint } : {}) };

  // An aborted task surfaces as whatever the SDK threw on abort; the signal knows why it fired.
  if (ctx.signal.aborted) {
    // The runtime aborts with a TimeoutError at the deadline and an AbortError on cancel (DOMException or Error).
    const reason = ctx.signal.reason as { name?: unknown } | undefined;
    if (reason?.name === 'TimeoutError') {
      return new TaskFailure('TIMEOUT', `The validation did not finish before its deadline (during ${ctx.step}${at(ctx.endpoint)}); check that AWS is reachable from the delegate quickly, or allow a longer deadline.`, base, { cause: error });
    }
    return new TaskFailure('CANCELLED', `The validation was cancelled during ${ctx.step}.`, base, { cause: error });
  }

  if (isServiceError(error)) return fromServiceError(error, ctx, base);

  if (error instanceof ProxyTunnelError) {
    return new TaskFailure(
      'ENDPOINT_UNREACHABLE',
      `The delegate reaches AWS through a proxy, and ${error.message} during ${ctx.step}; allow that host on the proxy, or exempt it with NO_PROXY if the delegate can reach it directly.`,
      { ...base, proxy: error.proxy, target: error.target, ...(error.statusCode ? { proxyStatusCode: error.statusCode } : {}) },
      { cause: error },
    );
  }

  const code = systemErrorCode(error);
  if (code !== undefined && UNREACHABLE_CODES.has(code)) {
    return new TaskFailure(
      'ENDPOINT_UNREACHABLE',
      `The delegate could not reach ${ctx.endpoint ?? 'the AWS endpoint'} (${code}) during ${ctx.step}; check DNS, routing, firewalls, proxy settings (HTTPS_PROXY/NO_PROXY) and any endpoint override for this account.`,
      { ...base, errorCode: code },
      { cause: error },
    );
  }
  if (code !== undefined && TLS_CODES.has(code)) {
    return new TaskFailure(
      'TLS_UNTRUSTED',
      `The delegate does not trust the TLS certificate of ${ctx.endpoint ?? 'the AWS endpoint'} (${code}) with ${ctx.caBundle ? "the account's caBundle, which is its only trust store; set caBundle to the root, intermediate or chain that signed this endpoint's certificate" : "the system's CA roots; if the endpoint (a private region, VPC endpoint or TLS-inspecting proxy) uses a private CA, set the account's caBundle to it"}.`,
      { ...base, errorCode: code },
      { cause: error },
    );
  }
  if ((error instanceof Error && error.name === 'TimeoutError') || code === 'ETIMEDOUT') {
    return new TaskFailure(
      'TIMEOUT',
      `${ctx.endpoint ?? 'The AWS endpoint'} did not answer in time during ${ctx.step}; check that it is reachable from the delegate and not silently dropping traffic.`,
      { ...base, ...(code ? { errorCode: code } : {}) },
      { cause: error },
    );
  }
  if (error instanceof Error && error.name === 'CredentialsProviderError') {
    return new TaskFailure(
      'NO_CREDENTIALS',
      `The delegate found no AWS credentials of its own (environment, shared config, web identity, container or instance profile): ${error.message}`,
      base,
      { cause: error },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TaskFailure('AWS_ERROR', `Calling AWS failed during ${ctx.step}${at(ctx.endpoint)}: ${message}`, base, { cause: error });
}

function fromServiceError(error: ServiceErrorShape, ctx: ErrorContext, base: Record<string, unknown>): TaskFailure {
  const awsErrorCode = error.Code ?? error.name;
  const details = {
    ...base,
    awsErrorCode,
    ...(error.$metadata.requestId ? { requestId: error.$metadata.requestId } : {}),
    ...(error.$metadata.httpStatusCode ? { httpStatusCode: error.$metadata.httpStatusCode } : {}),
    awsMessage: error.message,
  };
  const creds = ctx.credentialsDescription ?? 'the credentials';
  const failure = (code: AwsFailureCode, message: string) => new TaskFailure(code, message, details, { cause: error });

  if (INVALID_CREDENTIAL_CODES.has(awsErrorCode)) {
    return failure(
      'INVALID_CREDENTIALS',
      `AWS was not able to validate the provided access credentials (${awsErrorCode} during ${ctx.step}): check that ${creds} hold an active access key ID and its matching secret access key${ctx.region ? ` for the partition of ${ctx.region}` : ''}.`,
    );
  }
  if (EXPIRED_CODES.has(awsErrorCode)) {
    return failure('EXPIRED_CREDENTIALS', `AWS says ${creds} have expired (${awsErrorCode} during ${ctx.step}); issue fresh temporary credentials or use long-lived keys or a role.`);
  }
  if (DENIED_CODES.has(awsErrorCode)) {
    if (ctx.step === 'sts:AssumeRoleWithWebIdentity') {
      return failure(
        'ASSUME_ROLE_DENIED',
        `AWS denied sts:AssumeRoleWithWebIdentity on ${ctx.roleArn ?? 'the role'}: check that the role's trust policy allows the cluster's OIDC provider and this service account (the token's sub claim).`,
      );
    }
    if (ctx.step === 'sts:AssumeRole') {
      return failure(
        'ASSUME_ROLE_DENIED',
        `AWS denied sts:AssumeRole on ${ctx.roleArn ?? 'the role'}: check that the role's trust policy allows the calling principal and requires the external ID configured for this account, and that ${creds} are allowed sts:AssumeRole on the role.`,
      );
    }
    if (ctx.step !== 'credentials') {
      return new TaskFailure(
        'MISSING_PERMISSION',
        `The credentials are valid but ${ctx.principalArn ?? 'the caller'} is not allowed to call ${ctx.step}; grant ${ctx.step} in an IAM policy attached to it.`,
        { ...details, action: ctx.step },
        { cause: error },
      );
    }
  }
  if (REGION_DISABLED_CODES.has(awsErrorCode)) {
    return failure('REGION_DISABLED', `AWS refused ${ctx.step} in ${ctx.region ?? 'the test region'} (${awsErrorCode}); enable the region for the account or choose another test region.`);
  }
  return failure('AWS_ERROR', `AWS answered ${ctx.step} with ${awsErrorCode}: ${error.message}`);
}

function isServiceError(error: unknown): error is ServiceErrorShape {
  return error instanceof Error && typeof (error as { $metadata?: unknown }).$metadata === 'object' && typeof (error as { $fault?: unknown }).$fault === 'string';
}

/** Node system error code; on dual-stack connects Node reports an AggregateError whose parts carry it. */
function systemErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (error instanceof AggregateError) {
    for (const inner of error.errors) {
      const innerCode = systemErrorCode(inner);
      if (innerCode !== undefined) return innerCode;
    }
  }
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error ? systemErrorCode(cause) : undefined;
}

function at(endpoint: string | undefined): string {
  return endpoint ? ` at ${endpoint}` : '';
}
