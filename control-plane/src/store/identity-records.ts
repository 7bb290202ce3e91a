/**
 * People and programs of a tenant: users, their sessions, API keys, and the failed sign-ins that
 * throttle guessing. Secrets are never stored: API keys and session ids as SHA-256 hashes (256-bit
 * random values), passwords as scrypt hashes with their salt and parameters.
 */

/** Ordered from least to most: each role can do everything the ones before it can. */
export const ROLES = ['viewer', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export type TenantStatus = 'active' | 'suspended';
export type UserStatus = 'active' | 'disabled';

export interface UserRecord {
  id: string;
  tenantId: string;
  /** Lower-cased; unique within the tenant (the same person may belong to several tenants). */
  email: string;
  name: string;
  role: Role;
  status: UserStatus;
  /** Encoded scrypt hash (see identity/password-hasher.ts); null: the user cannot sign in with a password. */
  passwordHash: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export type UserPatch = Partial<Pick<UserRecord, 'name' | 'role' | 'status' | 'passwordHash'>>;

/** A change to users that must leave the tenant at least one active admin. */
export type UserChange = { ok: true; user: UserRecord } | { ok: false; reason: 'not-found' | 'last-admin' };

export interface SessionRecord {
  /** SHA-256 of the session secret held in the cookie. */
  idHash: string;
  tenantId: string;
  userId: string;
  createdAt: Date;
  lastSeenAt: Date;
  /** The absolute end, whatever the activity. */
  expiresAt: Date;
  revokedAt: Date | null;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  role: Role;
  /** The first characters of the secret, to recognise a key in a list; never enough to use it. */
  prefix: string;
  hash: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  revokedAt: Date | null;
  /** After a rotation: the hash of the replaced secret, accepted until `previousValidUntil`. */
  previousHash: string | null;
  previousValidUntil: Date | null;
}

/** What creating a tenant needs for its first key: always an admin key, named INITIAL_KEY_NAME. */
export type FirstApiKey = Pick<ApiKeyRecord, 'id' | 'tenantId' | 'hash' | 'createdAt'> & { prefix?: string };
export const INITIAL_KEY_NAME = 'initial admin key';

export interface ApiKeyMatch {
  key: ApiKeyRecord;
  /** `previous`: the secret is the one a rotation replaced (valid only within its grace period). */
  matched: 'current' | 'previous';
}
