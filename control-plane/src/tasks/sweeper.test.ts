import { describe, expect, it } from 'vitest';
import { SessionRegistry } from '../delegates/session-registry.js';
import { queuedTask, realLifecycle, realStore, seedTenant, session, silentLog } from '../delegates/test-support.js';
import { DelegateExplainer } from './explainer.js';
import { Presence } from '../delegates/presence.js';
import { Requeuer } from './requeue.js';
import { Sweeper } from './sweeper.js';

describe('Sweeper', () => {
  it('requeues an expired lease unless a session here still holds that attempt', async () => {
    const store = await realStore();
    const tenant = await seedTenant(store, 'acme');
    const { bus, lifecycle, metrics } = realLifecycle(store);
    const registry = new SessionRegistry();
    const explainer = new DelegateExplainer(new Presence(store, registry, 30_000), registry);
    const requeue = new Requeuer(store, lifecycle, metrics, silentLog);
    const sweeper = new Sweeper({ store, bus, holders: registry, requeue, lifecycle, explainer, intervalMs: 60_000, log: silentLog });
    const claimant = { id: 'dlg_a', tenantId: tenant.id, tags: ['edge'], taskTypes: ['echo'] };
    const past = new Date(Date.now() - 60_000);
    for (const id of ['tsk_held', 'tsk_orphan']) {
      await store.insertTask(queuedTask(tenant.id, id));
      await store.claimTask({ taskId: id, delegate: claimant, now: past, leaseExpiresAt: new Date(past.getTime() + 1_000) });
    }
    const s = session({ id: 'dlg_a', tenantId: tenant.id }).session;
    registry.add(s);
    s.held.set('tsk_held', { attempt: 1, type: 'echo', accepted: true, ackTimer: null });
    await sweeper.sweep();
    expect(await store.getTask(tenant.id, 'tsk_held')).toMatchObject({ state: 'assigned', attempt: 1 });
    expect(await store.getTask(tenant.id, 'tsk_orphan')).toMatchObject({ state: 'queued', attempt: 2 });
  });
});
