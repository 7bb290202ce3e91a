import type { ApiKeyRecord, Tenant, UserRecord } from '../store/store.js';

/** API representations of people, keys and tenants: never a hash, never a secret. */
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export const userView = (u: UserRecord) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  status: u.status,
  hasPassword: u.passwordHash !== null,
  createdAt: iso(u.createdAt),
  updatedAt: iso(u.updatedAt),
});

export const apiKeyView = (k: ApiKeyRecord) => ({
  id: k.id,
  name: k.name,
  role: k.role,
  prefix: k.prefix,
  createdAt: iso(k.createdAt),
  lastUsedAt: iso(k.lastUsedAt),
  expiresAt: iso(k.expiresAt),
  revokedAt: iso(k.revokedAt),
  /** Until when the secret replaced by the last rotation is still accepted. */
  previousSecretValidUntil: iso(k.previousValidUntil),
});

export const tenantView = (t: Tenant) => ({
  id: t.id,
  name: t.name,
  status: t.status,
  createdAt: iso(t.createdAt),
  suspendedAt: iso(t.suspendedAt),
});
