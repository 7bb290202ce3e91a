import * as client from 'openid-client';
import { AppError, ErrorCode } from '../errors.js';

/** How long a provider's discovery document (and the JWKS cache that hangs off it) is reused. */
const DISCOVERY_TTL_MS = 5 * 60_000;
/** Seconds for each request to a provider: a slow provider must not hold a sign-in for long. */
const REQUEST_TIMEOUT_SECONDS = 10;

export interface ProviderSettings {
  issuer: string;
  clientId: string;
  /** Null: a public client, authenticated by PKCE alone. */
  clientSecret: string | null;
}

/**
 * The tenant's identity provider as openid-client sees it: discovery (cached per issuer, client and
 * secret), and the mapping of the library's failures to our codes. Plain http issuers are allowed
 * only where the operator listed them (ATTACHE_OIDC_INSECURE_ISSUERS).
 */
export class OidcProviderClient {
  private readonly cache = new Map<string, { at: number; config: Promise<client.Configuration> }>();

  constructor(private readonly insecureIssuers: readonly string[]) {}

  /** Refuses an issuer the control plane may not talk to; the message names the setting. */
  checkIssuer(issuer: string): void {
    const url = URL.canParse(issuer) ? new URL(issuer) : null;
    if (url?.protocol === 'https:') return;
    if (url?.protocol === 'http:' && this.insecureIssuers.includes(url.origin)) return;
    throw new AppError(
      ErrorCode.VALIDATION_FAILED,
      `The issuer must be an https:// URL (plain http only for origins the operator lists in ATTACHE_OIDC_INSECURE_ISSUERS).`,
      { issues: [{ path: 'issuer', message: 'expected an https:// URL' }] },
    );
  }

  async configuration(settings: ProviderSettings): Promise<client.Configuration> {
    const key = JSON.stringify([settings.issuer, settings.clientId, settings.clientSecret]);
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < DISCOVERY_TTL_MS) return hit.config;
    const config = this.discover(settings);
    this.cache.set(key, { at: Date.now(), config });
    // A failed discovery is not remembered: the next sign-in tries again.
    config.catch(() => this.cache.delete(key));
    if (this.cache.size > 1_000) this.cache.delete(this.cache.keys().next().value!);
    return config;
  }

  private async discover(settings: ProviderSettings): Promise<client.Configuration> {
    this.checkIssuer(settings.issuer);
    const insecure = new URL(settings.issuer).protocol === 'http:';
    try {
      const config = await client.discovery(
        new URL(settings.issuer),
        settings.clientId,
        undefined,
        settings.clientSecret === null ? client.None() : client.ClientSecretBasic(settings.clientSecret),
        { timeout: REQUEST_TIMEOUT_SECONDS, ...(insecure ? { execute: [client.allowInsecureRequests] } : {}) },
      );
      config.timeout = REQUEST_TIMEOUT_SECONDS;
      return config;
    } catch (err) {
      throw new AppError(
        ErrorCode.OIDC_PROVIDER_UNREACHABLE,
        `The identity provider at ${settings.issuer} could not be discovered (${reasonOf(err)}); check the issuer URL (its /.well-known/openid-configuration must name the same issuer).`,
        { issuer: settings.issuer, reason: reasonOf(err) },
        { cause: err },
      );
    }
  }
}

/** The code for a failed code exchange or ID token check, from the library's error. */
export function grantFailure(err: unknown, issuer: string): AppError {
  if (err instanceof client.AuthorizationResponseError || err instanceof client.ResponseBodyError) {
    const description = err.error_description ? `: ${err.error_description}` : '';
    return new AppError(
      ErrorCode.OIDC_PROVIDER_ERROR,
      `The identity provider refused the sign-in (${err.error}${description}). Start again from /v1/session/oidc/start.`,
      { issuer, error: err.error, errorDescription: err.error_description ?? null },
      { cause: err },
    );
  }
  if (isNetworkFailure(err)) {
    return new AppError(ErrorCode.OIDC_PROVIDER_UNREACHABLE, `The identity provider at ${issuer} did not answer (${reasonOf(err)}); try again.`, { issuer, reason: reasonOf(err) }, { cause: err });
  }
  const { reason, claim, code } = validationDetail(err);
  return new AppError(
    ErrorCode.OIDC_TOKEN_INVALID,
    `The identity provider's answer did not pass validation (${reason}); nothing was signed in. Check the tenant's issuer and clientId, and the clocks.`,
    { issuer, reason, claim, libraryCode: code },
    { cause: err },
  );
}

/**
 * openid-client wraps oauth4webapi's errors in a general message; the wrapped one says which check
 * failed (its message, and the claim: `aud`, `exp`, `nonce`, `iss`...).
 */
function validationDetail(err: unknown): { reason: string; claim: string | null; code: string | null } {
  let reason = reasonOf(err);
  let claim: string | null = null;
  const codeOf = (x: unknown): string | null => {
    const c = (x as { code?: unknown } | null)?.code;
    return typeof c === 'string' ? c : null;
  };
  let code = codeOf(err);
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const cause = (e as { cause?: unknown }).cause;
    if (cause && typeof cause === 'object' && typeof (cause as { claim?: unknown }).claim === 'string') claim = (cause as { claim: string }).claim;
    if (!(cause instanceof Error)) break;
    reason = reasonOf(cause);
    code = codeOf(cause) ?? code;
    e = cause;
  }
  return { reason, claim, code };
}

function isNetworkFailure(err: unknown): boolean {
  const name = (err as { name?: unknown; cause?: { name?: unknown } }).name;
  const causeName = (err as { cause?: { name?: unknown } }).cause?.name;
  return (
    (err instanceof TypeError && err.message === 'fetch failed') ||
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    causeName === 'TimeoutError' ||
    (err as { cause?: unknown }).cause instanceof TypeError
  );
}

function reasonOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.length > 200 ? `${message.slice(0, 200)}…` : message;
}
