import * as client from 'openid-client';
import type { Logger } from 'pino';
import { AppError, ErrorCode } from '../errors.js';
import { hashSecret, newSecret, secretsEqual } from '../security/secrets.js';
import type { Store } from '../store/store.js';
import type { CliBinding, OidcLoginRecord } from '../store/oidc-store.js';
import type { Tenant } from '../store/records.js';
import type { UserRecord } from '../store/identity-records.js';
import type { CliSignIn } from './cli-sign-in.js';
import { personFromClaims, safeReturnTo, type Person } from './oidc-claims.js';
import { notConfigured, type OidcConfigService } from './oidc-config-service.js';
import { grantFailure, type OidcProviderClient } from './oidc-provider-client.js';
import type { AuthenticatedPerson, IssuedSession, SessionService } from './session-service.js';
import { tenantActive } from './tenant-status.js';
import { normaliseEmail, type UserService } from './user-service.js';

export const OIDC_CALLBACK_PATH = '/v1/session/oidc/callback';
/** Abandoned sign-ins are deleted at a start, at most this often. */
const PRUNE_EVERY_MS = 5 * 60_000;

export interface StartedSignIn {
  /** The provider's authorization endpoint with state, nonce and the S256 PKCE challenge. */
  authorizationUrl: string;
  /** For the browser-binding cookie: only its hash is stored with the sign-in. */
  browserSecret: string;
  expiresAt: Date;
}

/**
 * Where a finished sign-in goes: a console sign-in gets its session (cookies) and its returnTo; a
 * CLI sign-in goes back to the CLI's loopback redirect, with a one-time code or with the refusal.
 */
export type FinishedSignIn = { kind: 'browser'; session: IssuedSession; returnTo: string } | { kind: 'cli'; redirect: string };

/**
 * What a callback learned before it succeeded or failed, filled in by `finish` as it goes: the
 * tenant once the state names a sign-in in progress, the email once the provider's claims carry
 * one. The audit trail reads it, so a refused sign-in lands in the tenant it was meant for.
 */
export interface SignInProgress {
  tenantId?: string;
  email?: string;
}

/**
 * OIDC sign-in, authorization code flow with PKCE (openid-client). `start` keeps the state (by its
 * hash), the nonce and the code verifier in the store, bound to a random cookie of the browser
 * that started; `finish` takes them out (single use), exchanges the code, lets openid-client
 * validate the ID token (issuer, audience, signature from the provider's JWKS, expiry, nonce),
 * applies the tenant's claim rules, creates or updates the user and opens the session through
 * SessionService.start, the one place sessions are made.
 */
export class OidcSignIn {
  private lastPrune = 0;

  constructor(
    private readonly deps: {
      store: Store;
      configs: OidcConfigService;
      provider: OidcProviderClient;
      users: UserService;
      sessions: SessionService;
      cli: CliSignIn;
      /** ATTACHE_PUBLIC_URL: the callback is `${publicUrl}/v1/session/oidc/callback`. */
      publicUrl: string | undefined;
      loginTtlMs: number;
      log: Logger;
    },
  ) {}

  /** The redirect URI to register at the provider, or OIDC_NOT_CONFIGURED without a public URL. */
  redirectUri(): string {
    if (!this.deps.publicUrl) {
      throw new AppError(
        ErrorCode.OIDC_NOT_CONFIGURED,
        'OIDC sign-in needs the control plane to know its own address: the operator must set ATTACHE_PUBLIC_URL.',
        { setting: 'ATTACHE_PUBLIC_URL' },
      );
    }
    return new URL(OIDC_CALLBACK_PATH, this.deps.publicUrl).toString();
  }

  /**
   * Whether a sign-in with the tenant's provider can start: a provider is set, the tenant is active
   * and the control plane knows its address. An unknown tenant answers false like one without a
   * provider, so the answer tells nothing of which tenants exist.
   */
  async offered(tenantName: string): Promise<boolean> {
    if (!this.deps.publicUrl) return false;
    const tenant = await this.deps.store.oidc.findTenantByName(tenantName);
    if (!tenant || tenant.status === 'suspended') return false;
    return (await this.deps.configs.get(tenant.id)) !== null;
  }

  /** `cli`: the CLI's binding (see CliSignIn.binding) when the CLI started this sign-in. */
  async start(tenantName: string, returnTo: string | undefined, cli: CliBinding | null = null): Promise<StartedSignIn> {
    const target = safeReturnTo(returnTo);
    const tenant = await this.deps.store.oidc.findTenantByName(tenantName);
    // An unknown tenant and one without OIDC answer alike: which tenants exist is not told here.
    if (!tenant) throw notConfigured();
    tenantActive(tenant);
    const config = await this.deps.configs.require(tenant.id);
    const redirectUri = this.redirectUri();
    const provider = await this.deps.provider.configuration(this.deps.configs.providerSettings(config));

    const now = new Date();
    if (now.getTime() - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now.getTime();
      await this.deps.store.oidc.pruneOidcLogins(now);
    }
    const state = client.randomState();
    const nonce = client.randomNonce();
    const codeVerifier = client.randomPKCECodeVerifier();
    const browserSecret = newSecret('');
    const expiresAt = new Date(now.getTime() + this.deps.loginTtlMs);
    await this.deps.store.oidc.createOidcLogin({
      stateHash: hashSecret(state),
      tenantId: tenant.id,
      browserHash: hashSecret(browserSecret),
      nonce,
      codeVerifier,
      returnTo: target,
      cli,
      createdAt: now,
      expiresAt,
    });
    const url = client.buildAuthorizationUrl(provider, {
      redirect_uri: redirectUri,
      scope: ['openid', 'email', 'profile', ...config.scopes].join(' '),
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
    });
    return { authorizationUrl: url.toString(), browserSecret, expiresAt };
  }

  /** `query` is the callback's query string as received; `browserSecret` the binding cookie. */
  async finish(query: URLSearchParams, browserSecret: string | undefined, progress: SignInProgress = {}): Promise<FinishedSignIn> {
    const state = query.get('state');
    const login = state ? await this.deps.store.oidc.takeOidcLogin(hashSecret(state)) : null;
    if (login) progress.tenantId = login.tenantId;
    if (!login || login.expiresAt.getTime() <= Date.now()) {
      throw new AppError(
        ErrorCode.OIDC_STATE_INVALID,
        'This sign-in link is unknown, already used or expired; start again from /v1/session/oidc/start.',
        { reason: !state ? 'missing' : !login ? 'unknown-or-used' : 'expired' },
      );
    }
    if (!login.cli) return { kind: 'browser', session: await this.deps.sessions.start(await this.signedIn(login, query, browserSecret, progress)), returnTo: login.returnTo };
    // From here on the CLI waits on its loopback: a refusal goes there too, so it can say why.
    const cli = login.cli;
    try {
      return { kind: 'cli', redirect: await this.deps.cli.issue(await this.signedIn(login, query, browserSecret, progress), cli) };
    } catch (err) {
      if (err instanceof AppError) return { kind: 'cli', redirect: this.deps.cli.refusal(cli, err) };
      throw err;
    }
  }

  /** The person the provider signed in for a taken sign-in: browser binding, code exchange, ID token, claim rules, user. */
  private async signedIn(login: OidcLoginRecord, query: URLSearchParams, browserSecret: string | undefined, progress: SignInProgress): Promise<AuthenticatedPerson> {
    const state = query.get('state')!;
    if (!browserSecret || !secretsEqual(hashSecret(browserSecret), login.browserHash)) {
      throw new AppError(ErrorCode.OIDC_STATE_INVALID, 'This sign-in was started in another browser; start again from /v1/session/oidc/start in this one.', {
        reason: 'other-browser',
      });
    }
    const tenant = await this.tenant(login.tenantId);
    const config = await this.deps.configs.require(tenant.id);
    const provider = await this.deps.provider.configuration(this.deps.configs.providerSettings(config));
    const callbackUrl = new URL(this.redirectUri());
    callbackUrl.search = query.toString();
    let claims: Record<string, unknown>;
    try {
      const tokens = await client.authorizationCodeGrant(provider, callbackUrl, {
        pkceCodeVerifier: login.codeVerifier,
        expectedState: state,
        expectedNonce: login.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims()!;
      claims = { ...idToken };
      // Providers that follow the spec strictly release scope claims (email, groups) at the
      // UserInfo endpoint rather than in the ID token; fetch them there, for the ID token's subject.
      if (claims['email'] === undefined || claims[config.roleClaim] === undefined) {
        const info = await client.fetchUserInfo(provider, tokens.access_token, idToken.sub);
        claims = { ...info, ...claims };
      }
    } catch (err) {
      const failure = grantFailure(err, config.issuer);
      this.deps.log.warn({ tenantId: tenant.id, code: failure.code, reason: failure.details['reason'] ?? failure.details['error'] }, 'OIDC sign-in refused');
      throw failure;
    }
    if (typeof claims['email'] === 'string') progress.email = normaliseEmail(claims['email']);
    const person = personFromClaims(claims, config);
    return { tenant, user: await this.upsertUser(tenant, person) };
  }

  private async tenant(id: string): Promise<Tenant> {
    const tenant = await this.deps.store.getTenant(id);
    if (!tenant) throw new AppError(ErrorCode.OIDC_STATE_INVALID, 'The tenant of this sign-in no longer exists.', { reason: 'tenant-gone' });
    tenantActive(tenant);
    return tenant;
  }

  /**
   * The provider is the source of truth for a person's name and role: both follow it at every
   * sign-in, except that the tenant's last active admin is not demoted (LAST_ADMIN stands; they
   * keep admin until another admin exists). A disabled user stays disabled.
   */
  private async upsertUser(tenant: Tenant, person: Person): Promise<UserRecord> {
    const existing = (await this.deps.store.identity.findUsersByEmail(person.email)).find((c) => c.tenant.id === tenant.id)?.user;
    if (!existing) return this.deps.users.create(tenant.id, { email: person.email, name: person.name, role: person.role });
    if (existing.status !== 'active') {
      throw new AppError(ErrorCode.OIDC_USER_DISABLED, `The user ${person.email} is disabled in this tenant; ask a tenant admin.`, { email: person.email });
    }
    if (existing.role === person.role && existing.name === person.name) return existing;
    const change = await this.deps.store.identity.updateUser(tenant.id, existing.id, { role: person.role, name: person.name }, new Date());
    if (change.ok) return change.user;
    if (change.reason === 'last-admin') {
      this.deps.log.warn({ tenantId: tenant.id, userId: existing.id, mappedRole: person.role }, 'OIDC role mapping would demote the last admin; kept admin');
      const named = await this.deps.store.identity.updateUser(tenant.id, existing.id, { name: person.name }, new Date());
      return named.ok ? named.user : existing;
    }
    throw new AppError(ErrorCode.OIDC_STATE_INVALID, 'The user was deleted during sign-in; start again.', { reason: 'user-gone' });
  }
}
