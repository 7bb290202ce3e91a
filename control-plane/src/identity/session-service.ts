import { AppError, ErrorCode } from '../errors.js';
import { hashSecret, newSecret } from '../security/secrets.js';
import type { SessionRecord, UserRecord } from '../store/identity-records.js';
import type { IdentityStore } from '../store/identity-store.js';
import type { Tenant } from '../store/records.js';
import { PRUNE_EVERY_MS, type LoginThrottle } from './login-throttle.js';
import type { PasswordHasher } from './password-hasher.js';
import { tenantActive } from './tenant-status.js';
import { normaliseEmail } from './user-service.js';

export const SESSION_PREFIX = 'ats_';

/**
 * Who a sign-in proved: the one input of `SessionService.start`. The password sign-in below and the
 * OIDC callback (later) each end by handing one of these over, so sessions are made in one place.
 */
export interface AuthenticatedPerson {
  tenant: Tenant;
  user: UserRecord;
}

export interface IssuedSession extends AuthenticatedPerson {
  /** The cookie value; only its hash is stored. */
  secret: string;
  /** Double-submit token for state-changing requests (see csrfTokenFor). */
  csrfToken: string;
  expiresAt: Date;
}

export interface SessionTiming {
  /** A session unused this long ends (ATTACHE_SESSION_IDLE_SECONDS). */
  idleMs: number;
  /** A session ends this long after sign-in, used or not (ATTACHE_SESSION_MAX_SECONDS). */
  absoluteMs: number;
}

export interface ResolvedSession extends AuthenticatedPerson {
  session: SessionRecord;
}

export class SessionService {
  /** lastSeenAt moves at most this often: a write per request would be the cost of a session. */
  private readonly touchEveryMs: number;
  private lastPrune = 0;

  constructor(
    private readonly store: IdentityStore,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
    private readonly timing: SessionTiming,
  ) {
    this.touchEveryMs = Math.min(60_000, Math.floor(timing.idleMs / 10));
  }

  /**
   * Password sign-in. Unknown email, wrong password, disabled user and a user without a password
   * get the same answer (SIGN_IN_FAILED) after the same work: every candidate's hash is checked, and
   * an email with none still costs one scrypt. The tenant is needed only when the password is right
   * for users of several tenants; TENANT_REQUIRED then names none of them.
   */
  async signInWithPassword(input: { email: string; password: string; tenant?: string | undefined }, client: { address: string }): Promise<IssuedSession> {
    const email = normaliseEmail(input.email);
    const now = new Date();
    await this.throttle.admit(email, client.address, now);
    const candidates = (await this.store.findUsersByEmail(email)).filter(
      (c) => input.tenant === undefined || c.tenant.id === input.tenant || c.tenant.name === input.tenant,
    );
    if (candidates.length === 0) await this.hasher.burn(input.password);
    const matches: AuthenticatedPerson[] = [];
    for (const c of candidates) {
      const ok = await this.hasher.verify(input.password, c.user.passwordHash);
      if (ok && c.user.status === 'active') matches.push(c);
    }
    if (matches.length === 0) {
      await this.throttle.failed(email, now);
      throw new AppError(ErrorCode.SIGN_IN_FAILED, 'The email or password is not right, or the user is disabled. Check them, or ask a tenant admin.');
    }
    if (matches.length > 1) {
      throw new AppError(ErrorCode.TENANT_REQUIRED, 'This email belongs to users of more than one tenant: sign in again with "tenant" (its name or id).', {
        field: 'tenant',
      });
    }
    const person = matches[0]!;
    tenantActive(person.tenant);
    await this.throttle.succeeded(email, now);
    // Hashes made at an older cost are upgraded while the password is at hand.
    if (person.user.passwordHash && this.hasher.needsRehash(person.user.passwordHash)) {
      await this.store.updateUser(person.tenant.id, person.user.id, { passwordHash: await this.hasher.hash(input.password) }, now);
    }
    return this.start(person);
  }

  /** How long a session of this control plane lives unused, and at most (answers name them). */
  get limits(): Readonly<SessionTiming> {
    return this.timing;
  }

  /** Opens a session for a person a sign-in method has authenticated. */
  async start(person: AuthenticatedPerson): Promise<IssuedSession> {
    const now = new Date();
    // Sessions past their absolute end can never be used again; they go at sign-in, at most every 5 min.
    if (now.getTime() - this.lastPrune >= PRUNE_EVERY_MS) {
      this.lastPrune = now.getTime();
      await this.store.pruneSessions(now);
    }
    const secret = newSecret(SESSION_PREFIX);
    const expiresAt = new Date(now.getTime() + this.timing.absoluteMs);
    await this.store.createSession({
      idHash: hashSecret(secret),
      tenantId: person.tenant.id,
      userId: person.user.id,
      createdAt: now,
      lastSeenAt: now,
      expiresAt,
      revokedAt: null,
    });
    return { ...person, secret, csrfToken: csrfTokenFor(secret), expiresAt };
  }

  /** The live session behind a cookie, or the reason there is none (a code the client can act on). */
  async resolve(secret: string): Promise<ResolvedSession> {
    const found = await this.store.findSession(hashSecret(secret));
    if (!found || found.session.revokedAt) {
      throw new AppError(ErrorCode.UNAUTHENTICATED, 'This session has ended (signed out or revoked): sign in again (POST /v1/session, the console, or attache login).');
    }
    const now = Date.now();
    const { session, user, tenant } = found;
    if (now >= session.expiresAt.getTime() || now - session.lastSeenAt.getTime() >= this.timing.idleMs) {
      throw new AppError(ErrorCode.SESSION_EXPIRED, 'This session expired (idle too long, or past its maximum age): sign in again (POST /v1/session, the console, or attache login).');
    }
    if (user.status !== 'active') throw new AppError(ErrorCode.UNAUTHENTICATED, 'This user is disabled; ask a tenant admin.');
    tenantActive(tenant);
    if (now - session.lastSeenAt.getTime() >= this.touchEveryMs) await this.store.touchSession(session.idHash, new Date(now));
    return found;
  }

  async end(secret: string): Promise<void> {
    await this.store.revokeSession(hashSecret(secret), new Date());
  }

  /** An admin ends every session of a user (effective on their next request). */
  endAllOf(tenantId: string, userId: string): Promise<number> {
    return this.store.revokeUserSessions(tenantId, userId, new Date());
  }
}

/**
 * The CSRF token of a session: derived from its secret, so it needs no storage and a token made for
 * one session is worthless for another. Not reversible: the token (readable by page scripts) does
 * not give the HttpOnly session secret away.
 */
export function csrfTokenFor(sessionSecret: string): string {
  return Buffer.from(hashSecret(`csrf:${sessionSecret}`), 'hex').toString('base64url');
}
