import { describe, expect, it } from 'vitest';
import type { DelegateRecord } from '../store/store.js';
import { Presence } from './presence.js';
import { SessionRegistry } from './session-registry.js';
import { realStore, seedTenant, session } from './test-support.js';

const STALE_MS = 30_000;

function row(tenantId: string, id: string, lastHeartbeatAt: Date, over: Partial<DelegateRecord> = {}): DelegateRecord {
  return {
    id,
    tenantId,
    tokenId: 'tok_a',
    name: 'edge',
    instanceId: id,
    tags: ['edge'],
    taskTypes: ['echo'],
    maxConcurrency: 4,
    version: '1.0.0',
    transport: 'grpc',
    status: 'connected',
    inFlight: 3,
    replicaId: 'other-replica',
    sessionId: `ses_${id}`,
    connectedAt: lastHeartbeatAt,
    lastHeartbeatAt,
    disconnectedAt: null,
    policy: null,
    ...over,
  };
}

async function setup() {
  const store = await realStore();
  const tenant = await seedTenant(store, 'acme');
  const registry = new SessionRegistry();
  return { store, tenant, registry, presence: new Presence(store, registry, STALE_MS) };
}

describe('Presence', () => {
  it("shows a row another replica stopped refreshing (killed without cleanup) as disconnected, with nothing in flight", async () => {
    const { store, tenant, presence } = await setup();
    await store.upsertDelegate(row(tenant.id, 'dlg_dead', new Date(Date.now() - 2 * STALE_MS)));
    await store.upsertDelegate(row(tenant.id, 'dlg_fresh', new Date()));
    const listed = await presence.list(tenant.id, new Date(0));
    const byId = new Map(listed.map((l) => [l.row.id, l.presence]));
    expect(byId.get('dlg_dead')).toMatchObject({ status: 'disconnected', inFlight: 0 });
    expect(byId.get('dlg_fresh')).toMatchObject({ status: 'connected', inFlight: 3 });
    expect((await presence.connectedViews(tenant.id)).map((v) => v.id)).toEqual(['dlg_fresh']);
  });

  it('trusts the live session over the row for a delegate connected to this replica, however old the row', async () => {
    const { store, tenant, registry, presence } = await setup();
    await store.upsertDelegate(row(tenant.id, 'dlg_a', new Date(Date.now() - 2 * STALE_MS), { status: 'connected', inFlight: 0 }));
    const s = session({ id: 'dlg_a', tenantId: tenant.id }).session;
    registry.add(s);
    s.transition('registering', 'connected');
    s.transition('connected', 'draining');
    const [listed] = await presence.list(tenant.id, new Date(0));
    expect(listed?.presence.status).toBe('draining');
    expect((await presence.connectedViews(tenant.id))[0]).toMatchObject({ id: 'dlg_a', status: 'draining' });
  });

  it('applies one rule: stale only past the threshold, and never for a disconnected row', () => {
    const presence = new Presence({ listDelegates: async () => [] }, new SessionRegistry(), STALE_MS);
    const now = Date.now();
    expect(presence.isStale({ status: 'connected', lastHeartbeatAt: new Date(now - STALE_MS + 1) }, now)).toBe(false);
    expect(presence.isStale({ status: 'draining', lastHeartbeatAt: new Date(now - STALE_MS - 1) }, now)).toBe(true);
    expect(presence.isStale({ status: 'disconnected', lastHeartbeatAt: new Date(0) }, now)).toBe(false);
  });
});
