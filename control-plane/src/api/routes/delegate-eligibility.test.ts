import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { DelegateRelease } from '../../delegates/delegate-release.js';
import { Presence } from '../../delegates/presence.js';
import { SessionRegistry } from '../../delegates/session-registry.js';
import { realStore, seedTenant } from '../../delegates/test-support.js';
import type { DelegateRecord } from '../../store/store.js';
import { DelegateExplainer } from '../../tasks/explainer.js';
import { delegateRoutes } from './delegates.js';

const STALE_MS = 30_000;

const row = (tenantId: string, id: string, over: Partial<DelegateRecord>): DelegateRecord => ({
  id, tenantId, tokenId: 'tok_a', name: 'edge', instanceId: id, tags: ['edge'], taskTypes: ['echo', 'aws.validate'], maxConcurrency: 4, version: '1.0.0',
  transport: 'grpc', status: 'connected', inFlight: 0, replicaId: 'r1', sessionId: `ses_${id}`, connectedAt: new Date(), lastHeartbeatAt: new Date(),
  disconnectedAt: null, policy: null, ...over,
});

describe('GET /v1/delegates/eligibility', () => {
  const start = async () => {
    const store = await realStore();
    const tenant = await seedTenant(store, 'acme');
    await store.upsertDelegate(row(tenant.id, 'dlg_edge', { name: 'edge', tags: ['aws', 'edge'] }));
    await store.upsertDelegate(row(tenant.id, 'dlg_core', { name: 'core', tags: ['core'], taskTypes: ['echo'] }));
    await store.upsertDelegate(row(tenant.id, 'dlg_full', { name: 'full', tags: ['aws', 'full'], inFlight: 2, maxConcurrency: 2 }));
    await store.upsertDelegate(row(tenant.id, 'dlg_drain', { name: 'drain', tags: ['aws', 'drain'], status: 'draining' }));
    // A killed replica's row: still "connected" in the store, but stale, so not counted at all.
    await store.upsertDelegate(row(tenant.id, 'dlg_dead', { name: 'dead', tags: ['aws', 'dead'], lastHeartbeatAt: new Date(Date.now() - 3 * STALE_MS) }));
    const registry = new SessionRegistry();
    const presence = new Presence(store, registry, STALE_MS);
    const app = Fastify();
    app.addHook('onRequest', async (request) => {
      request.principal = { kind: 'tenant', tenant, role: 'viewer', via: { type: 'apiKey', key: {} as never } };
    });
    delegateRoutes(app, { tokens: {} as never, presence, explainer: new DelegateExplainer(presence, registry), release: new DelegateRelease('1.0.0'), retentionSeconds: 3600 });
    return app;
  };
  const ask = async (url: string) => {
    const app = await start();
    const res = await app.inject({ method: 'GET', url });
    await app.close();
    expect(res.statusCode, res.body).toBe(200);
    return res.json();
  };

  it('counts the connected delegates that carry the tags and the type, and says why each other one does not', async () => {
    const answer = await ask('/v1/delegates/eligibility?tags=aws');
    expect(answer).toEqual({
      taskType: 'aws.validate',
      selectors: ['aws'],
      eligible: 1,
      delegates: [
        { id: 'dlg_core', name: 'core', eligible: false, reasons: ['missing tags: aws', 'task type "aws.validate" not supported'] },
        { id: 'dlg_drain', name: 'drain', eligible: false, reasons: ['draining'] },
        { id: 'dlg_edge', name: 'edge', eligible: true, reasons: [] },
        { id: 'dlg_full', name: 'full', eligible: false, reasons: ['full (2/2 tasks)'] },
      ],
    });
  });

  it('a gateway is a selector like the tags; the task type is the one asked for', async () => {
    const answer = await ask('/v1/delegates/eligibility?gateway=core&taskType=echo');
    expect(answer.selectors).toEqual(['core']);
    expect(answer.eligible).toBe(1);
    expect(answer.delegates.find((d: { name: string }) => d.name === 'core')).toEqual({ id: 'dlg_core', name: 'core', eligible: true, reasons: [] });
    expect(answer.delegates.find((d: { name: string }) => d.name === 'edge').reasons).toEqual(['missing tags: core']);
  });

  it('with no placement every connected delegate with room that runs the type is eligible', async () => {
    const answer = await ask('/v1/delegates/eligibility');
    expect(answer).toMatchObject({ selectors: [], eligible: 1 });
    expect(answer.delegates.map((d: { name: string }) => d.name)).toEqual(['core', 'drain', 'edge', 'full']);
  });
});
