import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../bus/memory-bus.js';
import type { AppError } from '../errors.js';
import { hashSecret } from '../security/secrets.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { ApiKeyService } from './api-key-service.js';

/** Two services on one store and bus stand for two replicas, each with its own lookup cache. */
describe('ApiKeyService', () => {
  let store: SqliteStore;
  let bus: MemoryBus;
  let a: ApiKeyService;
  let b: ApiKeyService;
  const tenantId = 'ten_keys';

  beforeEach(async () => {
    store = SqliteStore.open({ path: ':memory:' });
    await store.migrate();
    await store.createTenant({ id: tenantId, name: 'keys', externalId: 'x', createdAt: new Date() }, { id: 'key_first', tenantId, hash: 'h-first', createdAt: new Date() });
    bus = new MemoryBus();
    a = new ApiKeyService(store, bus);
    b = new ApiKeyService(store, bus);
  });
  afterEach(async () => {
    await bus.close();
    await store.close();
  });

  async function code(p: Promise<unknown>): Promise<string> {
    try {
      await p;
      return 'ok';
    } catch (err) {
      return (err as AppError).code;
    }
  }

  it('refuses an expired key with API_KEY_EXPIRED, and an unknown secret is simply not a key', async () => {
    const { record, apiKey } = await a.create(tenantId, { name: 'ci', role: 'editor', expiresInDays: 1 });
    expect((await a.resolve(apiKey))?.key.role).toBe('editor');
    expect(record.expiresAt!.getTime() - record.createdAt.getTime()).toBe(86_400_000);
    // A key whose expiry has passed, as a day going by would leave it.
    const secret = 'atk_expired-secret';
    await store.identity.createApiKey({ ...record, id: 'key_exp', hash: hashSecret(secret), expiresAt: new Date(Date.now() - 1000) });
    expect(await code(b.resolve(secret))).toBe('API_KEY_EXPIRED');
    expect(await b.resolve('atk_never-issued')).toBeNull();
  });

  it('revocation on one replica refuses the key on another at once, despite its cache', async () => {
    const { record, apiKey } = await a.create(tenantId, { name: 'svc', role: 'viewer' });
    expect((await b.resolve(apiKey))?.key.id).toBe(record.id); // now cached on b
    await a.revoke(tenantId, record.id);
    expect(await code(b.resolve(apiKey))).toBe('API_KEY_REVOKED');
  });

  it('refuses the replaced secret with API_KEY_REVOKED once its grace period is over', async () => {
    const { record, apiKey: old } = await a.create(tenantId, { name: 'svc', role: 'admin' });
    const { apiKey: fresh } = await a.rotate(tenantId, record.id, 1);
    expect((await b.resolve(old))?.key.id).toBe(record.id);
    await new Promise((r) => setTimeout(r, 1_100));
    // Still cached on b: the grace end is checked on every use, not only on a fresh lookup.
    expect(await code(b.resolve(old))).toBe('API_KEY_REVOKED');
    expect((await b.resolve(fresh))?.key.id).toBe(record.id);
  });

  it('rotation keeps the old secret for the grace period only, and 0 ends it at once', async () => {
    const { record, apiKey: first } = await a.create(tenantId, { name: 'svc', role: 'admin' });
    const { apiKey: second } = await a.rotate(tenantId, record.id, 3600);
    expect((await b.resolve(first))?.key.id).toBe(record.id);
    expect((await b.resolve(second))?.key.id).toBe(record.id);
    const { apiKey: third, record: after } = await a.rotate(tenantId, record.id, 0);
    expect(after.previousValidUntil).toBeNull();
    expect(await b.resolve(first)).toBeNull();
    expect(await b.resolve(second)).toBeNull();
    expect((await b.resolve(third))?.key.id).toBe(record.id);
    await a.revoke(tenantId, record.id);
    expect(await code(a.rotate(tenantId, record.id, 0))).toBe('CONFLICT');
    expect(await code(a.rotate(tenantId, 'key_missing', 0))).toBe('NOT_FOUND');
  });

  it('refuses every key of a suspended tenant with TENANT_SUSPENDED, and accepts them again on resume', async () => {
    const { apiKey } = await a.create(tenantId, { name: 'svc', role: 'viewer' });
    await b.resolve(apiKey);
    await store.identity.setTenantStatus(tenantId, 'suspended', new Date());
    await a.changed(tenantId);
    expect(await code(b.resolve(apiKey))).toBe('TENANT_SUSPENDED');
    await store.identity.setTenantStatus(tenantId, 'active', new Date());
    await a.changed(tenantId);
    expect(await code(b.resolve(apiKey))).toBe('ok');
  });
});
