import { AppError, ErrorCode } from '../errors.js';
import { newId } from '../ids.js';
import { hashSecret, KEY_PREFIX, newExternalId, newSecret } from '../security/secrets.js';
import type { Store, Tenant } from '../store/store.js';
import { StoreConflictError } from '../store/store-errors.js';

const KEY_CACHE_TTL_MS = 5_000;
const KEY_CACHE_MAX = 10_000;

/** Tenants and their API keys. The key is returned once; only its hash is kept. */
export class TenantService {
  private readonly cache = new Map<string, { tenant: Tenant; expires: number }>();

  constructor(private readonly store: Store) {}

  async create(name: string): Promise<{ tenant: Tenant; apiKey: string }> {
    const now = new Date();
    const tenant: Tenant = { id: newId('ten'), name, externalId: newExternalId(), createdAt: now };
    const apiKey = newSecret(KEY_PREFIX.apiKey);
    try {
      await this.store.createTenant(tenant, { id: newId('key'), tenantId: tenant.id, hash: hashSecret(apiKey), createdAt: now });
    } catch (err) {
      if (err instanceof StoreConflictError) {
        throw new AppError(ErrorCode.CONFLICT, `A tenant named "${name}" already exists; choose another name.`, { field: 'name' });
      }
      throw err;
    }
    return { tenant, apiKey };
  }

  /**
   * The tenant of an API key. Hits are cached briefly (bounded), so a busy client costs one hash
   * per request instead of a store read; misses are never cached, so a new key works at once.
   */
  async byApiKey(apiKey: string): Promise<Tenant | null> {
    const hash = hashSecret(apiKey);
    const now = Date.now();
    const cached = this.cache.get(hash);
    if (cached && cached.expires > now) return cached.tenant;
    const tenant = await this.store.findTenantByApiKeyHash(hash);
    if (tenant) {
      if (this.cache.size >= KEY_CACHE_MAX) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(hash, { tenant, expires: now + KEY_CACHE_TTL_MS });
    }
    return tenant;
  }
}
