import { GoodbyeCode } from '@attache/proto';
import { describe, expect, it } from 'vitest';
import { SessionRegistry } from '../delegates/session-registry.js';
import { FakeConnection, queuedTask, realLifecycle, realStore, seedTenant, session, silentLog } from '../delegates/test-support.js';
import { LeaseKeeper } from './lease-keeper.js';
import { Requeuer } from './requeue.js';

const timing = { heartbeatTimeoutMs: 5_000 };

async function setup() {
  const store = await realStore();
  const tenant = await seedTenant(store, 'acme');
  const { lifecycle, metrics } = realLifecycle(store);
  const registry = new SessionRegistry();
  const requeue = new Requeuer(store, lifecycle, metrics, silentLog);
  const pumps: string[] = [];
  const leases = new LeaseKeeper({ store, sessions: registry, requeue, slots: { pump: (s) => pumps.push(s.id) }, timing, log: silentLog });
  const connect = (connection = new FakeConnection('adt_x')) => {
    const s = session({ id: 'dlg_a', tenantId: tenant.id }, connection).session;
    return { s, connection };
  };
  /** A presence row for the session, as the handshake writes it before registering. */
  const present = (s: ReturnType<typeof connect>['s']) =>
    store.upsertDelegate({
      id: s.id, tenantId: tenant.id, tokenId: 'tok_a', name: 'edge', instanceId: 'i-1', tags: ['edge'], taskTypes: ['echo'], maxConcurrency: 2,
      version: '1.0.0', transport: 'fake', status: 'connected', inFlight: 0, replicaId: 'r', sessionId: s.sessionId, connectedAt: new Date(),
      lastHeartbeatAt: new Date(), disconnectedAt: null, policy: null,
    });
  /** A task the delegate runs: claimed by it, then marked running. */
  const running = async (id: string) => {
    await store.insertTask(queuedTask(tenant.id, id));
    const now = new Date();
    const claimant = { id: 'dlg_a', tenantId: tenant.id, tags: ['edge'], taskTypes: ['echo'] };
    await store.claimTask({ taskId: id, delegate: claimant, now, leaseExpiresAt: new Date(now.getTime() + 60_000) });
    await store.markRunning({ taskId: id, attempt: 1, delegateId: 'dlg_a', now, leaseExpiresAt: new Date(now.getTime() + 60_000) });
  };
  return { store, tenant, registry, leases, pumps, connect, present, running };
}

describe('LeaseKeeper', () => {
  it('adopts what a reconnecting delegate still runs, and returns what was reassigned and what it lost', async () => {
    const { store, tenant, leases, connect, present, running } = await setup();
    await running('tsk_kept');
    await running('tsk_lost');
    await store.insertTask(queuedTask(tenant.id, 'tsk_elsewhere'));
    const { s } = connect();
    await present(s);
    const { stale, lost } = await leases.register(s, [
      { taskId: 'tsk_kept', attempt: 1 },
      { taskId: 'tsk_elsewhere', attempt: 1 },
    ]);
    expect(s.holds('tsk_kept', 1)).toBe(true);
    expect(stale.map((r) => r.taskId)).toEqual(['tsk_elsewhere']);
    expect(lost.map((t) => t.id)).toEqual(['tsk_lost']);
  });

  it('requeues an accepted attempt a heartbeat no longer lists (its result was lost) and cancels one it lists but does not hold', async () => {
    const { store, tenant, leases, pumps, connect, present, running } = await setup();
    await running('tsk_1');
    const { s, connection } = connect();
    await present(s);
    await leases.register(s, [{ taskId: 'tsk_1', attempt: 1 }]);
    await leases.heartbeat(s, 1, [{ taskId: 'tsk_other', attempt: 3 }]);
    expect(await store.getTask(tenant.id, 'tsk_1')).toMatchObject({ state: 'queued', attempt: 2 });
    expect(s.inFlight).toBe(0);
    expect(pumps).toEqual(['dlg_a']);
    const cancels = connection.sent.filter((f) => f.frame.case === 'cancel').map((f) => (f.frame.case === 'cancel' ? [f.frame.value.taskId, f.frame.value.attempt] : []));
    expect(cancels).toEqual([['tsk_other', 3]]);
  });

  it('extends the leases of what the delegate holds on each heartbeat', async () => {
    const { store, tenant, leases, connect, present, running } = await setup();
    await running('tsk_1');
    const { s } = connect();
    await present(s);
    await leases.register(s, [{ taskId: 'tsk_1', attempt: 1 }]);
    const before = (await store.getTask(tenant.id, 'tsk_1'))!.leaseExpiresAt!.getTime();
    await new Promise((r) => setTimeout(r, 20));
    await leases.heartbeat(s, 1, [{ taskId: 'tsk_1', attempt: 1 }]);
    const task = await store.getTask(tenant.id, 'tsk_1');
    expect(task?.state).toBe('running');
    expect(task!.leaseExpiresAt!.getTime()).toBeGreaterThan(before);
  });

  it('requeues everything a delegate held when its connection goes, and closes the session', async () => {
    const { store, tenant, registry, leases, connect, present, running } = await setup();
    await running('tsk_1');
    const { s } = connect();
    await present(s);
    await leases.register(s, [{ taskId: 'tsk_1', attempt: 1 }]);
    await leases.unregister(s, 'stream closed');
    expect(await store.getTask(tenant.id, 'tsk_1')).toMatchObject({ state: 'queued', attempt: 2 });
    expect(s.state).toBe('closed');
    expect(registry.get('dlg_a')).toBeUndefined();
  });

  it('a newer connection of the same delegate replaces the older and keeps its tasks', async () => {
    const { store, tenant, registry, leases, connect, present, running } = await setup();
    await running('tsk_1');
    const old = connect();
    await present(old.s);
    await leases.register(old.s, [{ taskId: 'tsk_1', attempt: 1 }]);
    const fresh = connect();
    await present(fresh.s);
    await leases.register(fresh.s, [{ taskId: 'tsk_1', attempt: 1 }]);
    expect(old.connection.closedWith?.code).toBe(GoodbyeCode.REPLACED);
    expect(old.s.state).toBe('closed');
    expect(registry.get('dlg_a')).toBe(fresh.s);
    // The old connection's late close changes nothing: the task stays with the new one.
    await leases.unregister(old.s, 'stream closed');
    expect(await store.getTask(tenant.id, 'tsk_1')).toMatchObject({ state: 'running', attempt: 1 });
    expect(fresh.s.holds('tsk_1', 1)).toBe(true);
  });
});
