import { pkceS256 } from '@attache/proto';
import { AppError, ErrorCode } from '../errors.js';
import { hashSecret, newSecret, secretsEqual } from '../security/secrets.js';
import type { CliBinding } from '../store/oidc-store.js';
import type { Store } from '../store/store.js';
import { loopbackRedirect } from './loopback-redirect.js';
import type { AuthenticatedPerson, IssuedSession, SessionService } from './session-service.js';
import { tenantActive } from './tenant-status.js';

export const CLI_CODE_PREFIX = 'atc_';
/** Unexchanged codes are deleted at an issue, at most this often. */
const PRUNE_EVERY_MS = 5 * 60_000;

/** What the exchange route hands over, already checked for shape at the edge. */
export interface CliExchange {
  code: string;
  codeVerifier: string;
  redirectUri: string;
}

export type CliCodeRefusal = 'unknown-or-used' | 'expired' | 'redirect-mismatch' | 'verifier-mismatch' | 'user-gone';

/**
 * A refused exchange. `tenantId` is the tenant of the code when one was found (a wrong verifier or
 * redirect), so the audit trail records the attempt there; it is not part of the answer.
 */
export class CliCodeRefused extends AppError {
  constructor(
    readonly reason: CliCodeRefusal,
    readonly tenantId: string | null,
  ) {
    super(
      ErrorCode.OIDC_CODE_INVALID,
      reason === 'user-gone'
        ? 'The user of this sign-in no longer exists or is disabled; ask a tenant admin.'
        : 'This sign-in code is unknown, already used, expired, or does not match the verifier and redirect it was issued for; run attache login again.',
      { reason },
    );
    this.name = 'CliCodeRefused';
  }
}

/**
 * The control plane's half of RFC 8252 (OAuth for native apps) with PKCE: the CLI starts an OIDC
 * sign-in with its loopback redirect, S256 challenge and state; once the provider has signed the
 * person in, `issue` stores a one-time code (by its hash, short-lived, bound to the challenge and
 * redirect) and names the loopback URL that carries it. `exchange` takes the code once, whatever
 * the outcome (a wrong verifier burns it), and opens the person's session through
 * SessionService.start: the CLI's credential is an ordinary user session, sent as a bearer token.
 */
export class CliSignIn {
  private lastPrune = 0;

  constructor(
    private readonly deps: {
      store: Store;
      sessions: SessionService;
      /** ATTACHE_OIDC_CLI_CODE_SECONDS, as milliseconds. */
      codeTtlMs: number;
    },
  ) {}

  /** The CLI's parameters of a start, the redirect checked against the loopback rule. */
  binding(input: { redirectUri: string; codeChallenge: string; state: string }): CliBinding {
    return { redirectUri: loopbackRedirect(input.redirectUri), codeChallenge: input.codeChallenge, state: input.state };
  }

  /** Stores a code for `person` and returns the loopback URL that hands it (and the CLI's state) over. */
  async issue(person: AuthenticatedPerson, cli: CliBinding): Promise<string> {
    const now = new Date();
    if (now.getTime() - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now.getTime();
      await this.deps.store.oidc.pruneCliCodes(now);
    }
    const code = newSecret(CLI_CODE_PREFIX);
    await this.deps.store.oidc.createCliCode({
      codeHash: hashSecret(code),
      tenantId: person.tenant.id,
      userId: person.user.id,
      codeChallenge: cli.codeChallenge,
      redirectUri: cli.redirectUri,
      createdAt: now,
      expiresAt: new Date(now.getTime() + this.deps.codeTtlMs),
    });
    return loopbackUrl(cli, { code });
  }

  /** The loopback URL that tells the CLI its sign-in was refused (the API's code and sentence). */
  refusal(cli: CliBinding, err: AppError): string {
    return loopbackUrl(cli, { error: err.code, error_description: err.message });
  }

  async exchange(input: CliExchange): Promise<IssuedSession> {
    const found = await this.deps.store.oidc.takeCliCode(hashSecret(input.code));
    if (!found) throw new CliCodeRefused('unknown-or-used', null);
    if (found.expiresAt.getTime() <= Date.now()) throw new CliCodeRefused('expired', found.tenantId);
    let redirect: string | null;
    try {
      redirect = loopbackRedirect(input.redirectUri);
    } catch {
      redirect = null;
    }
    if (redirect === null || redirect !== found.redirectUri) throw new CliCodeRefused('redirect-mismatch', found.tenantId);
    if (!secretsEqual(pkceS256(input.codeVerifier), found.codeChallenge)) throw new CliCodeRefused('verifier-mismatch', found.tenantId);
    const [tenant, user] = await Promise.all([this.deps.store.getTenant(found.tenantId), this.deps.store.identity.getUser(found.tenantId, found.userId)]);
    if (!tenant || !user || user.status !== 'active') throw new CliCodeRefused('user-gone', found.tenantId);
    tenantActive(tenant);
    return this.deps.sessions.start({ tenant, user });
  }
}

function loopbackUrl(cli: CliBinding, params: Record<string, string>): string {
  const url = new URL(cli.redirectUri);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  url.searchParams.set('state', cli.state);
  return url.href;
}
