import type { ApiKeyMatch, ApiKeyRecord, SessionRecord, TenantStatus, UserChange, UserPatch, UserRecord } from './identity-records.js';
import type { Tenant } from './records.js';

/** The one rule every backend enforces in updateUser/deleteUser: does this change take an active admin away from the tenant? */
export function removesActiveAdmin(user: UserRecord, patch: UserPatch | 'delete'): boolean {
  if (user.role !== 'admin' || user.status !== 'active') return false;
  if (patch === 'delete') return true;
  return (patch.role !== undefined && patch.role !== 'admin') || (patch.status !== undefined && patch.status !== 'active');
}

export interface ListTenantsQuery {
  /** At most this many, in id order. */
  limit: number;
  /** Only tenants with an id strictly after this one (cursor pagination). */
  afterId?: string;
}

/**
 * The identity part of the Store: every backend implements it over the same database as the rest
 * (one transaction can span both) and passes `runIdentityStoreConformance`. Lookups by a secret's
 * hash are global (the secret names its tenant); everything else takes the tenant explicitly.
 */
export interface IdentityStore {
  // Tenants, as the operator sees them
  listTenants(query: ListTenantsQuery): Promise<Tenant[]>;
  /** Suspends or resumes; the first suspension time stands while suspended. Null if no such tenant. */
  setTenantStatus(id: string, status: TenantStatus, at: Date): Promise<Tenant | null>;

  // API keys
  createApiKey(key: ApiKeyRecord): Promise<void>;
  listApiKeys(tenantId: string): Promise<ApiKeyRecord[]>;
  /** The key whose current secret, or whose previous secret (a rotation's), hashes to `hash`. */
  findApiKeyByHash(hash: string): Promise<ApiKeyMatch | null>;
  /**
   * Replaces the secret of a key that is not revoked; the replaced secret stays valid until
   * `previousValidUntil` (a rotation during a grace period ends the older secret at once).
   */
  rotateApiKey(tenantId: string, id: string, secret: { hash: string; prefix: string }, previousValidUntil: Date | null): Promise<ApiKeyRecord | null>;
  /** Revokes (idempotent: the first time stands); null when the tenant has no such key. */
  revokeApiKey(tenantId: string, id: string, at: Date): Promise<ApiKeyRecord | null>;
  /** Moves lastUsedAt forward (never back). */
  touchApiKey(id: string, at: Date): Promise<void>;

  // Users
  createUser(user: UserRecord): Promise<void>;
  getUser(tenantId: string, id: string): Promise<UserRecord | null>;
  listUsers(tenantId: string): Promise<UserRecord[]>;
  /** Every tenant's user with this (lower-cased) email, with the tenant: sign-in without a tenant. */
  findUsersByEmail(email: string): Promise<Array<{ user: UserRecord; tenant: Tenant }>>;
  /**
   * Changes a user in one atomic step, refused with `last-admin` when it would leave the tenant
   * without an active admin (demotion or disabling of the last one). Concurrent changes cannot both
   * pass the check.
   */
  updateUser(tenantId: string, id: string, patch: UserPatch, now: Date): Promise<UserChange>;
  /** Deletes the user and their sessions; refused with `last-admin` like updateUser. */
  deleteUser(tenantId: string, id: string): Promise<UserChange>;

  // Sessions
  createSession(session: SessionRecord): Promise<void>;
  /** The session with its user and tenant, whatever its state (the caller checks expiry). */
  findSession(idHash: string): Promise<{ session: SessionRecord; user: UserRecord; tenant: Tenant } | null>;
  /** Moves lastSeenAt forward (never back). */
  touchSession(idHash: string, at: Date): Promise<void>;
  revokeSession(idHash: string, at: Date): Promise<void>;
  /** Revokes every live session of the user; returns how many. */
  revokeUserSessions(tenantId: string, userId: string, at: Date): Promise<number>;
  /** Deletes sessions past their absolute end (revoked or not): they can never be used again. */
  pruneSessions(expiredBefore: Date): Promise<void>;

  // Sign-in throttling (shared by replicas, so the limits hold across them)
  recordLoginAttempt(bucket: string, at: Date): Promise<void>;
  /** Attempts recorded in `bucket` at or after `since`, and the oldest of them. */
  countLoginAttempts(bucket: string, since: Date): Promise<{ count: number; oldest: Date | null }>;
  /** Forgets the bucket's attempts (a successful sign-in). */
  clearLoginAttempts(bucket: string): Promise<void>;
  /** Deletes every bucket's attempts older than `before` (past every window). */
  pruneLoginAttempts(before: Date): Promise<void>;
}
