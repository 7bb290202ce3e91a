import type { Bus } from '../bus/bus.js';
import { AppError, ErrorCode } from '../errors.js';
import { newId } from '../ids.js';
import { shownPrefix, type ApiKeyService } from '../identity/api-key-service.js';
import { normaliseEmail, type UserService } from '../identity/user-service.js';
import { hashSecret, KEY_PREFIX, newExternalId, newSecret } from '../security/secrets.js';
import type { ApiKeyRecord, Store, Tenant, UserRecord } from '../store/store.js';
import { StoreConflictError } from '../store/store-errors.js';

export interface FirstAdmin {
  email: string;
  name: string;
  password?: string | undefined;
}

/**
 * Tenants as the operator manages them: creation (with the first admin key and, optionally, the
 * first admin user), listing, suspension and a new admin credential for a tenant that lost its own.
 */
export class TenantService {
  constructor(
    private readonly store: Store,
    private readonly users: UserService,
    private readonly keys: ApiKeyService,
    private readonly bus: Bus,
  ) {}

  async create(name: string, admin?: FirstAdmin): Promise<{ tenant: Tenant; apiKey: string; admin: UserRecord | null }> {
    const now = new Date();
    const tenant: Tenant = { id: newId('ten'), name, externalId: newExternalId(), createdAt: now, status: 'active', suspendedAt: null };
    const apiKey = newSecret(KEY_PREFIX.apiKey);
    const user = admin ? await this.users.build(tenant.id, { ...admin, role: 'admin' }, now) : null;
    try {
      await this.store.createTenant(tenant, { id: newId('key'), tenantId: tenant.id, hash: hashSecret(apiKey), createdAt: now, prefix: shownPrefix(apiKey) }, user ?? undefined);
    } catch (err) {
      if (err instanceof StoreConflictError) {
        throw new AppError(ErrorCode.CONFLICT, `A tenant named "${name}" already exists; choose another name.`, { field: 'name' });
      }
      throw err;
    }
    return { tenant, apiKey, admin: user };
  }

  list(limit: number, afterId?: string): Promise<Tenant[]> {
    return this.store.identity.listTenants({ limit, ...(afterId !== undefined ? { afterId } : {}) });
  }

  async get(id: string): Promise<Tenant> {
    const tenant = await this.store.getTenant(id);
    if (!tenant) throw new AppError(ErrorCode.NOT_FOUND, `No tenant with id "${id}" exists.`, { id });
    return tenant;
  }

  /** Refuses the tenant's keys and sessions from the next request, and closes its delegates now. */
  async suspend(id: string): Promise<Tenant> {
    const tenant = await this.setStatus(id, 'suspended');
    await this.bus.publish('tenant.suspended', { tenantId: id });
    return tenant;
  }

  resume(id: string): Promise<Tenant> {
    return this.setStatus(id, 'active');
  }

  /**
   * For a tenant that lost its own credentials: a new admin API key, and, when `user` is given, a
   * password for that email (the user is made an active admin, or created as one).
   */
  async issueAdminCredentials(
    id: string,
    input: { keyName: string; user?: { email: string; name?: string | undefined; password: string } | undefined },
  ): Promise<{ key: ApiKeyRecord; apiKey: string; user: UserRecord | null }> {
    await this.get(id);
    const { record, apiKey } = await this.keys.create(id, { name: input.keyName, role: 'admin' });
    let user: UserRecord | null = null;
    if (input.user) {
      const email = normaliseEmail(input.user.email);
      const existing = (await this.users.list(id)).find((u) => u.email === email);
      user = existing
        ? await this.users.update(id, existing.id, { role: 'admin', status: 'active', password: input.user.password })
        : await this.users.create(id, { email, name: input.user.name ?? email, role: 'admin', password: input.user.password });
    }
    return { key: record, apiKey, user };
  }

  private async setStatus(id: string, status: Tenant['status']): Promise<Tenant> {
    const tenant = await this.store.identity.setTenantStatus(id, status, new Date());
    if (!tenant) throw new AppError(ErrorCode.NOT_FOUND, `No tenant with id "${id}" exists.`, { id });
    await this.keys.changed(id);
    return tenant;
  }
}
