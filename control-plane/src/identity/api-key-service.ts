import type { Bus } from '../bus/bus.js';
import { AppError, ErrorCode, notFound } from '../errors.js';
import { newId } from '../ids.js';
import { hashSecret, KEY_PREFIX, newSecret } from '../security/secrets.js';
import type { ApiKeyMatch, ApiKeyRecord, Role } from '../store/identity-records.js';
import type { Store, Tenant } from '../store/store.js';
import { tenantActive } from './tenant-status.js';

/**
 * After a rotation the replaced secret keeps working for 24 hours by default, so every program
 * holding it can be redeployed with the new one without an outage; `graceSeconds` picks another
 * period up to 7 days, or 0 to end the old secret at once (a leak).
 */
export const ROTATION_GRACE_DEFAULT_SECONDS = 86_400;
export const ROTATION_GRACE_MAX_SECONDS = 7 * 86_400;
export const API_KEY_MAX_DAYS = 3_650;

/** Characters of the secret shown in lists: the fixed prefix and 6 random ones, ~36 bits of 256. */
const SHOWN_PREFIX_LENGTH = KEY_PREFIX.apiKey.length + 6;
export const shownPrefix = (secret: string): string => secret.slice(0, SHOWN_PREFIX_LENGTH);
const CACHE_TTL_MS = 5_000;
const CACHE_MAX = 10_000;
/** lastUsedAt is kept to the minute: a write per request would cost more than the field is worth. */
const TOUCH_EVERY_MS = 60_000;

export interface ResolvedKey {
  key: ApiKeyRecord;
  tenant: Tenant;
}

/**
 * API keys for programs: shown once, stored hashed, with a role, an optional expiry, rotation with a
 * grace period and revocation. Lookups are cached for a few seconds per replica; every change
 * publishes `credentials.changed`, which drops the tenant's cached keys on every replica, so
 * revocation takes effect on the next request. Expiry and grace ends are checked on every request.
 */
export class ApiKeyService {
  private readonly cache = new Map<string, { found: ApiKeyMatch; tenant: Tenant; until: number }>();

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
  ) {
    bus.subscribe('credentials.changed', (m) => this.forget(m.tenantId));
  }

  async create(tenantId: string, input: { name: string; role: Role; expiresInDays?: number | undefined }): Promise<{ record: ApiKeyRecord; apiKey: string }> {
    const apiKey = newSecret(KEY_PREFIX.apiKey);
    const now = new Date();
    const record: ApiKeyRecord = {
      id: newId('key'),
      tenantId,
      name: input.name,
      role: input.role,
      prefix: shownPrefix(apiKey),
      hash: hashSecret(apiKey),
      createdAt: now,
      lastUsedAt: null,
      expiresAt: input.expiresInDays === undefined ? null : new Date(now.getTime() + input.expiresInDays * 86_400_000),
      revokedAt: null,
      previousHash: null,
      previousValidUntil: null,
    };
    await this.store.identity.createApiKey(record);
    return { record, apiKey };
  }

  list(tenantId: string): Promise<ApiKeyRecord[]> {
    return this.store.identity.listApiKeys(tenantId);
  }

  async rotate(tenantId: string, id: string, graceSeconds: number): Promise<{ record: ApiKeyRecord; apiKey: string }> {
    const apiKey = newSecret(KEY_PREFIX.apiKey);
    const validUntil = graceSeconds > 0 ? new Date(Date.now() + graceSeconds * 1000) : null;
    const record = await this.store.identity.rotateApiKey(tenantId, id, { hash: hashSecret(apiKey), prefix: shownPrefix(apiKey) }, validUntil);
    if (!record) {
      const exists = (await this.list(tenantId)).some((k) => k.id === id);
      if (!exists) throw notFound('API key', id);
      throw new AppError(ErrorCode.CONFLICT, 'This API key is revoked and cannot be rotated; create a new key.', { id });
    }
    await this.changed(tenantId);
    return { record, apiKey };
  }

  async revoke(tenantId: string, id: string): Promise<ApiKeyRecord> {
    const record = await this.store.identity.revokeApiKey(tenantId, id, new Date());
    if (!record) throw notFound('API key', id);
    await this.changed(tenantId);
    return record;
  }

  /** The key and tenant behind a secret, or the reason it is refused. Null: not an API key we know. */
  async resolve(secret: string): Promise<ResolvedKey | null> {
    const hash = hashSecret(secret);
    const now = Date.now();
    let entry = this.cache.get(hash);
    if (!entry || entry.until <= now) {
      const found = await this.store.identity.findApiKeyByHash(hash);
      const tenant = found ? await this.store.getTenant(found.key.tenantId) : null;
      if (!found || !tenant) {
        this.cache.delete(hash);
        return null;
      }
      if (!found.key.lastUsedAt || now - found.key.lastUsedAt.getTime() >= TOUCH_EVERY_MS) {
        await this.store.identity.touchApiKey(found.key.id, new Date(now));
        found.key.lastUsedAt = new Date(now);
      }
      if (this.cache.size >= CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
      entry = { found, tenant, until: now + CACHE_TTL_MS };
      this.cache.set(hash, entry);
    }
    const { found, tenant } = entry;
    if (found.key.revokedAt) throw new AppError(ErrorCode.API_KEY_REVOKED, `The API key "${found.key.name}" was revoked; ask a tenant admin for a new one.`);
    if (found.matched === 'previous' && (!found.key.previousValidUntil || now >= found.key.previousValidUntil.getTime())) {
      throw new AppError(ErrorCode.API_KEY_REVOKED, `The API key "${found.key.name}" was rotated and the old secret's grace period is over; use the new secret.`);
    }
    if (found.key.expiresAt && now >= found.key.expiresAt.getTime()) {
      throw new AppError(ErrorCode.API_KEY_EXPIRED, `The API key "${found.key.name}" expired at ${found.key.expiresAt.toISOString()}; ask a tenant admin for a new one.`);
    }
    tenantActive(tenant);
    return { key: found.key, tenant };
  }

  /** Tells every replica (this one at once) to forget the tenant's cached keys. */
  async changed(tenantId: string): Promise<void> {
    this.forget(tenantId);
    await this.bus.publish('credentials.changed', { tenantId });
  }

  private forget(tenantId: string): void {
    for (const [hash, entry] of this.cache) if (entry.found.key.tenantId === tenantId) this.cache.delete(hash);
  }
}
