import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { DelegateRelease } from '../../delegates/delegate-release.js';
import { Presence } from '../../delegates/presence.js';
import { SessionRegistry } from '../../delegates/session-registry.js';
import { realStore, seedTenant } from '../../delegates/test-support.js';
import type { DelegateRecord } from '../../store/store.js';
import { gatewayRoutes } from './gateways.js';

const STALE_MS = 30_000;

const row = (tenantId: string, id: string, replicaId: string, lastHeartbeatAt: Date): DelegateRecord => ({
  id, tenantId, tokenId: 'tok_a', name: 'edge', instanceId: id, tags: ['edge'], taskTypes: ['echo'], maxConcurrency: 4, version: '1.0.0',
  transport: 'grpc', status: 'connected', inFlight: 2, replicaId, sessionId: `ses_${id}`, connectedAt: lastHeartbeatAt, lastHeartbeatAt,
  disconnectedAt: null, policy: null,
});

describe('GET /v1/gateways', () => {
  it("does not show a killed replica's delegates as connected: its rows, no longer refreshed, count as disconnected", async () => {
    const store = await realStore();
    const tenant = await seedTenant(store, 'acme');
    // Replica "dead" was SIGKILLed: its row still says connected, with a heartbeat long past.
    await store.upsertDelegate(row(tenant.id, 'dlg_dead', 'dead', new Date(Date.now() - 3 * STALE_MS)));
    await store.upsertDelegate(row(tenant.id, 'dlg_alive', 'alive', new Date()));
    const app = Fastify();
    app.addHook('onRequest', async (request) => {
      request.principal = { kind: 'tenant', tenant, role: 'admin', via: { type: 'apiKey', key: {} as never } };
    });
    gatewayRoutes(app, { store, presence: new Presence(store, new SessionRegistry(), STALE_MS), release: new DelegateRelease('1.0.0'), retentionSeconds: 3600 });
    const res = await app.inject({ method: 'GET', url: '/v1/gateways' });
    await app.close();
    expect(res.statusCode).toBe(200);
    const [edge] = res.json().items;
    expect(edge).toMatchObject({ name: 'edge', connected: 1 });
    expect(edge.replicas.map((r: { id: string }) => r.id)).toEqual(['dlg_alive']);
  });
});
