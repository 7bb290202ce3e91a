import { describe, expect, it } from 'vitest';
import { MemoryBus } from '../bus/memory-bus.js';
import { DelegateTokenService, parseBearer } from './token-service.js';
import { realStore, seedTenant } from './test-support.js';

describe('parseBearer', () => {
  it('takes the one credential after a case-insensitive Bearer scheme', () => {
    expect(parseBearer('Bearer adt_abc')).toBe('adt_abc');
    expect(parseBearer('bearer   adt_abc')).toBe('adt_abc');
    expect(parseBearer('BEARER adt_abc ')).toBe('adt_abc');
  });

  it('finds no bearer in anything else', () => {
    for (const header of [undefined, null, '', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer a b', 'adt_abc']) {
      expect(parseBearer(header)).toBeNull();
    }
  });
});

describe('DelegateTokenService.verify', () => {
  async function setup() {
    const store = await realStore();
    const tenant = await seedTenant(store, 'acme');
    const tokens = new DelegateTokenService(store, new MemoryBus());
    return { store, tenant, tokens };
  }

  it('lets in a live token of an active tenant', async () => {
    const { tenant, tokens } = await setup();
    const { record, token } = await tokens.create(tenant.id, 'edge');
    const checked = await tokens.verify(token);
    expect(checked.ok && checked.token.id).toBe(record.id);
  });

  it('refuses a missing, unknown, revoked or other-tenant token', async () => {
    const { tenant, tokens } = await setup();
    const { record, token } = await tokens.create(tenant.id, 'edge');
    expect(await tokens.verify(null)).toEqual({ ok: false, refusal: 'missing' });
    expect(await tokens.verify('adt_not-a-token')).toEqual({ ok: false, refusal: 'unknown' });
    expect(await tokens.verify(token, 'ten_other')).toEqual({ ok: false, refusal: 'unknown' });
    await tokens.revoke(tenant.id, record.id);
    expect(await tokens.verify(token)).toEqual({ ok: false, refusal: 'unknown' });
  });

  it("refuses a suspended tenant's token, naming the tenant", async () => {
    const { store, tenant, tokens } = await setup();
    const { token } = await tokens.create(tenant.id, 'edge');
    await store.identity.setTenantStatus(tenant.id, 'suspended', new Date());
    const checked = await tokens.verify(token);
    expect(checked.ok === false && checked.refusal === 'suspended' && checked.tenant.id).toBe(tenant.id);
  });
});
