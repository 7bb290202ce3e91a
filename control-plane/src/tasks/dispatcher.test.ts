import { afterEach, describe, expect, it } from 'vitest';
import { SessionRegistry } from '../delegates/session-registry.js';
import { FakeConnection, queuedTask, realLifecycle, realStore, seedTenant, session, silentLog } from '../delegates/test-support.js';
import { Dispatcher } from './dispatcher.js';
import { Requeuer } from './requeue.js';

const timing = { ackTimeoutMs: 200, heartbeatTimeoutMs: 5_000 };
const stops: Array<() => void> = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

async function setup(timingOverride: Partial<typeof timing & { runningWriteDelayMs: number }> = {}) {
  const store = await realStore();
  const tenant = await seedTenant(store, 'acme');
  const { bus, lifecycle, metrics } = realLifecycle(store);
  const registry = new SessionRegistry();
  const requeue = new Requeuer(store, lifecycle, metrics, silentLog);
  const dispatcher = new Dispatcher({ store, bus, sessions: registry, requeue, lifecycle, metrics, timing: { ...timing, ...timingOverride }, log: silentLog });
  dispatcher.start();
  stops.push(() => dispatcher.stop());
  const connect = (id: string, tags: string[], maxConcurrency = 2) => {
    const connection = new FakeConnection('adt_x');
    const s = session({ id, tenantId: tenant.id, tags, maxConcurrency }, connection).session;
    registry.add(s);
    s.transition('registering', 'connected');
    return { s, connection };
  };
  return { store, tenant, bus, lifecycle, registry, dispatcher, connect };
}

const assigned = (c: FakeConnection) => c.sent.filter((f) => f.frame.case === 'assign').map((f) => (f.frame.case === 'assign' ? f.frame.value.taskId : ''));

describe('Dispatcher', () => {
  it('places a queued task on the least-loaded eligible delegate, and only on one carrying its selectors', async () => {
    const { store, tenant, dispatcher, connect } = await setup();
    const busy = connect('dlg_busy', ['edge', 'gpu']);
    const idle = connect('dlg_idle', ['edge', 'gpu']);
    const wrong = connect('dlg_wrong', ['edge']);
    busy.s.held.set('tsk_other', { attempt: 1, type: 'echo', accepted: true, ackTimer: null });
    await store.insertTask(queuedTask(tenant.id, 'tsk_1', { selectors: ['gpu'] }));
    await dispatcher.place(tenant.id, 'tsk_1', 'echo', ['gpu']);
    expect(assigned(idle.connection)).toEqual(['tsk_1']);
    expect(assigned(busy.connection)).toEqual([]);
    expect(assigned(wrong.connection)).toEqual([]);
    expect((await store.getTask(tenant.id, 'tsk_1'))?.delegateId).toBe('dlg_idle');
    expect(idle.s.holds('tsk_1', 1)).toBe(true);
  });

  it('places a task entering the queue on a local delegate without announcing it; announces only one no local delegate can take', async () => {
    const { store, tenant, bus, lifecycle, dispatcher, connect } = await setup();
    lifecycle.placeWith(dispatcher);
    const announced: string[] = [];
    bus.subscribe('task.queued', (m) => void announced.push(m.taskId));
    const { connection } = connect('dlg_a', ['edge'], 1);
    const here = queuedTask(tenant.id, 'tsk_here', { selectors: ['edge'] });
    await store.insertTask(here);
    await lifecycle.queued(here);
    await expect.poll(() => assigned(connection)).toEqual(['tsk_here']);
    // No local delegate carries gpu, and dlg_a is now full: the other replicas are told about both.
    const gpu = queuedTask(tenant.id, 'tsk_gpu', { selectors: ['gpu'] });
    const full = queuedTask(tenant.id, 'tsk_full', { selectors: ['edge'] });
    for (const t of [gpu, full]) {
      await store.insertTask(t);
      await lifecycle.queued(t);
    }
    await expect.poll(() => [...announced].sort()).toEqual(['tsk_full', 'tsk_gpu']);
    expect(announced).not.toContain('tsk_here');
    expect((await store.getTask(tenant.id, 'tsk_gpu'))?.state).toBe('queued');
  });

  it('places nothing on a draining or still registering delegate', async () => {
    const { store, tenant, dispatcher, connect, registry } = await setup();
    const draining = connect('dlg_draining', []);
    draining.s.transition('connected', 'draining');
    const registering = session({ id: 'dlg_new', tenantId: tenant.id }).session;
    registry.add(registering);
    await store.insertTask(queuedTask(tenant.id, 'tsk_1'));
    await dispatcher.place(tenant.id, 'tsk_1', 'echo', []);
    expect(assigned(draining.connection)).toEqual([]);
    expect((await store.getTask(tenant.id, 'tsk_1'))?.state).toBe('queued');
  });

  it('pumps a delegate up to its max concurrency and leaves the rest queued', async () => {
    const { store, tenant, dispatcher, connect } = await setup();
    for (const id of ['tsk_1', 'tsk_2', 'tsk_3']) await store.insertTask(queuedTask(tenant.id, id));
    const { s, connection } = connect('dlg_a', [], 2);
    dispatcher.pump(s);
    await expect.poll(() => assigned(connection).length).toBe(2);
    await new Promise((r) => setTimeout(r, 50));
    expect(assigned(connection)).toHaveLength(2);
    expect((await store.listTasks(tenant.id, { limit: 10 })).filter((t) => t.state === 'queued')).toHaveLength(1);
  });

  it('requeues an assignment not accepted within the ack timeout, as a new attempt', async () => {
    const { store, tenant, dispatcher, connect } = await setup();
    const { connection } = connect('dlg_a', []);
    await store.insertTask(queuedTask(tenant.id, 'tsk_1'));
    await dispatcher.place(tenant.id, 'tsk_1', 'echo', []);
    expect(assigned(connection)).toEqual(['tsk_1']);
    await expect.poll(async () => (await store.getTask(tenant.id, 'tsk_1'))?.attempt, { timeout: 3_000 }).toBe(2);
  });

  it('marks an accepted assignment running and keeps it past the ack timeout', async () => {
    const { store, tenant, dispatcher, connect } = await setup();
    const { s } = connect('dlg_a', []);
    await store.insertTask(queuedTask(tenant.id, 'tsk_1'));
    await dispatcher.place(tenant.id, 'tsk_1', 'echo', []);
    await dispatcher.accepted(s, 'tsk_1', 1);
    await new Promise((r) => setTimeout(r, timing.ackTimeoutMs * 2));
    expect(await store.getTask(tenant.id, 'tsk_1')).toMatchObject({ state: 'running', attempt: 1, delegateId: 'dlg_a' });
    expect(s.holds('tsk_1', 1)).toBe(true);
  });

  it('writes and announces an accepted attempt as running only once it has run for the delay', async () => {
    const { store, tenant, dispatcher, connect, lifecycle } = await setup({ runningWriteDelayMs: 40 });
    const seen: string[] = [];
    lifecycle.observe({ taskChanged: (t) => void seen.push(`${t.id}:${t.state}`) });
    const { s } = connect('dlg_a', []);
    await store.insertTask(queuedTask(tenant.id, 'tsk_1'));
    await dispatcher.place(tenant.id, 'tsk_1', 'echo', []);
    const before = Date.now();
    await dispatcher.accepted(s, 'tsk_1', 1);
    // Not yet written nor announced: a task that ended now would be written once, at its end.
    expect((await store.getTask(tenant.id, 'tsk_1'))?.state).toBe('assigned');
    expect(seen).not.toContain('tsk_1:running');
    await expect.poll(async () => (await store.getTask(tenant.id, 'tsk_1'))?.state, { timeout: 2_000 }).toBe('running');
    // The event follows the write: whoever reads the task after it reads running.
    await expect.poll(() => seen.filter((e) => e === 'tsk_1:running').length).toBe(1);
    const row = await store.getTask(tenant.id, 'tsk_1');
    expect(row?.startedAt?.getTime()).toBeGreaterThanOrEqual(before);
    expect(row?.startedAt?.getTime()).toBeLessThan(before + 40);
    // Past the ack timeout it stays this delegate's, as with an immediate write.
    await new Promise((r) => setTimeout(r, timing.ackTimeoutMs * 2));
    expect(await store.getTask(tenant.id, 'tsk_1')).toMatchObject({ state: 'running', attempt: 1, delegateId: 'dlg_a' });
  });

  it('writes nothing for an attempt released before the delay, and a duplicate Accepted changes nothing', async () => {
    const { store, tenant, dispatcher, connect } = await setup({ runningWriteDelayMs: 40 });
    const { s, connection } = connect('dlg_a', []);
    await store.insertTask(queuedTask(tenant.id, 'tsk_1'));
    await dispatcher.place(tenant.id, 'tsk_1', 'echo', []);
    await dispatcher.accepted(s, 'tsk_1', 1);
    await dispatcher.accepted(s, 'tsk_1', 1);
    const startedAt = s.held.get('tsk_1')?.startedAt;
    s.release('tsk_1');
    const done = await store.completeTask({ taskId: 'tsk_1', attempt: 1, delegateId: 'dlg_a', outcome: { state: 'succeeded', result: {} }, now: new Date(), startedAt });
    expect(done).toMatchObject({ state: 'succeeded', startedAt });
    await new Promise((r) => setTimeout(r, 120));
    expect((await store.getTask(tenant.id, 'tsk_1'))?.state).toBe('succeeded');
    expect(connection.sent.filter((f) => f.frame.case === 'cancel')).toHaveLength(0);
  });

  it('stops the attempt on the delegate when its deferred write finds the task no longer assigned to it', async () => {
    const { store, tenant, dispatcher, connect } = await setup({ runningWriteDelayMs: 40 });
    const { s, connection } = connect('dlg_a', []);
    await store.insertTask(queuedTask(tenant.id, 'tsk_1'));
    await dispatcher.place(tenant.id, 'tsk_1', 'echo', []);
    await dispatcher.accepted(s, 'tsk_1', 1);
    await store.finishTask({ tenantId: tenant.id, taskId: 'tsk_1', fromStates: ['assigned', 'running'], state: 'cancelled', error: { code: 'CANCELLED', message: 'x', details: {} }, now: new Date() });
    await expect.poll(() => connection.sent.filter((f) => f.frame.case === 'cancel').length, { timeout: 2_000 }).toBe(1);
    expect(s.holds('tsk_1', 1)).toBe(false);
  });

  it('fills every idle delegate of the tenant from the queue on one batch wake-up, up to the room each has', async () => {
    const { store, tenant, bus, connect } = await setup();
    const a = connect('dlg_a', [], 3);
    const b = connect('dlg_b', [], 2);
    const tasks = Array.from({ length: 8 }, (_, i) => queuedTask(tenant.id, `tsk_${i}`));
    await store.createTasks(tasks);
    await bus.publish('tasks.queued', { tenantId: tenant.id, count: tasks.length });
    await expect.poll(() => assigned(a.connection).length + assigned(b.connection).length).toBe(5);
    expect(assigned(a.connection)).toHaveLength(3);
    expect(assigned(b.connection)).toHaveLength(2);
    const all = [...assigned(a.connection), ...assigned(b.connection)];
    expect(new Set(all).size).toBe(5);
    expect((await store.listTasks(tenant.id, { limit: 20 })).filter((t) => t.state === 'queued')).toHaveLength(3);
  });
});
