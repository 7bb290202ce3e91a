import type { Store, Tenant } from '../store/store.js';

/** A tenant in a real (in-memory SQLite) store, for the unit tests of delegates/ and tasks/. */
export async function seedTenant(store: Store, name: string): Promise<Tenant> {
  const id = `ten_${name}`;
  const at = new Date();
  await store.createTenant({ id, name, externalId: `ext-${name}`, createdAt: at }, { id: `key_${name}`, tenantId: id, hash: `hash-${name}`, createdAt: at });
  const tenant = await store.getTenant(id);
  if (!tenant) throw new Error('the seeded tenant is missing');
  return tenant;
}
