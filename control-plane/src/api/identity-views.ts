import { z } from 'zod';
import { ROLES } from '../identity/roles.js';
import type { ApiKeyRecord, Tenant, UserRecord } from '../store/store.js';

/**
 * API representations of people, keys and tenants: never a hash, never a secret. Each has a zod
 * schema that the builder's return type is checked against, and that the OpenAPI document publishes.
 */
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

const time = z.iso.datetime();
const timeOrNull = time.nullable();

export const userViewSchema = z
  .object({
    id: z.string(),
    email: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    status: z.enum(['active', 'disabled']),
    hasPassword: z.boolean().meta({ description: 'Whether the user can sign in with a password.' }),
    createdAt: time,
    updatedAt: time,
  })
  .meta({ id: 'User' });

export const userView = (u: UserRecord): z.output<typeof userViewSchema> => ({
  id: u.id,
  email: u.email,
  name: u.name,
  role: u.role,
  status: u.status,
  hasPassword: u.passwordHash !== null,
  createdAt: u.createdAt.toISOString(),
  updatedAt: u.updatedAt.toISOString(),
});

export const apiKeyViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    role: z.enum(ROLES),
    prefix: z.string().meta({ description: 'The first characters of the key, to recognise it; never enough to use it.' }),
    createdAt: time,
    lastUsedAt: timeOrNull,
    expiresAt: timeOrNull,
    revokedAt: timeOrNull,
    previousSecretValidUntil: timeOrNull.meta({ description: 'Until when the secret replaced by the last rotation is still accepted.' }),
  })
  .meta({ id: 'ApiKey' });

export const apiKeyView = (k: ApiKeyRecord): z.output<typeof apiKeyViewSchema> => ({
  id: k.id,
  name: k.name,
  role: k.role,
  prefix: k.prefix,
  createdAt: k.createdAt.toISOString(),
  lastUsedAt: iso(k.lastUsedAt),
  expiresAt: iso(k.expiresAt),
  revokedAt: iso(k.revokedAt),
  previousSecretValidUntil: iso(k.previousValidUntil),
});

export const tenantViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: z.enum(['active', 'suspended']),
    createdAt: time,
    suspendedAt: timeOrNull,
  })
  .meta({ id: 'Tenant' });

export const tenantView = (t: Tenant): z.output<typeof tenantViewSchema> => ({
  id: t.id,
  name: t.name,
  status: t.status,
  createdAt: t.createdAt.toISOString(),
  suspendedAt: iso(t.suspendedAt),
});
