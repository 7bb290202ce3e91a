import { create, toBinary } from '@bufbuild/protobuf';
import { echo, ResultSchema } from '@attache/proto';
import { describe, expect, it } from 'vitest';
import type { DelegateSession } from '../delegates/session.js';
import { queuedTask, realLifecycle, realStore, seedTenant, session, silentLog } from '../delegates/test-support.js';
import type { Store } from '../store/store.js';
import { ResultRecorder } from './result-recorder.js';

async function setup() {
  const store = await realStore();
  const tenant = await seedTenant(store, 'acme');
  const { lifecycle } = realLifecycle(store);
  const s = session({ id: 'dlg_a', tenantId: tenant.id }).session;
  s.transition('registering', 'connected');
  await store.insertTask(queuedTask(tenant.id, 'tsk_1'));
  const now = new Date();
  await store.claimTask({ taskId: 'tsk_1', delegate: s.claimant(), now, leaseExpiresAt: new Date(now.getTime() + 60_000) });
  await store.markRunning({ taskId: 'tsk_1', attempt: 1, delegateId: 'dlg_a', now, leaseExpiresAt: new Date(now.getTime() + 60_000) });
  s.held.set('tsk_1', { attempt: 1, type: 'echo', accepted: true, ackTimer: null });
  return { store, tenant, lifecycle, s };
}

const success = (attempt: number) =>
  create(ResultSchema, { taskId: 'tsk_1', attempt, outcome: { case: 'success', value: toBinary(echo.EchoResultSchema, create(echo.EchoResultSchema, { message: 'hi' })) } });

/** The real store, with completeTask failing its first `failures` calls (a database outage). */
function failingFirst(store: Store, failures: number): Store {
  let left = failures;
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'completeTask') {
        return (...args: Parameters<Store['completeTask']>) => (left-- > 0 ? Promise.reject(new Error('database unavailable')) : target.completeTask(...args));
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

describe('ResultRecorder', () => {
  it('records a result fenced by attempt, frees the slot and pumps the delegate', async () => {
    const { store, tenant, lifecycle, s } = await setup();
    const pumped: DelegateSession[] = [];
    const recorder = new ResultRecorder({ store, lifecycle, slots: { pump: (x) => pumped.push(x) }, log: silentLog });
    await recorder.record(s, success(1));
    expect(await store.getTask(tenant.id, 'tsk_1')).toMatchObject({ state: 'succeeded', result: { message: 'hi' } });
    expect(s.inFlight).toBe(0);
    expect(pumped).toEqual([s]);
  });

  it('ends an attempt whose running write was not due yet in one write, announcing running before the end', async () => {
    const store = await realStore();
    const tenant = await seedTenant(store, 'acme');
    const { lifecycle } = realLifecycle(store);
    const seen: string[] = [];
    lifecycle.observe({ taskChanged: (t) => void seen.push(t.state) });
    const s = session({ id: 'dlg_a', tenantId: tenant.id }).session;
    s.transition('registering', 'connected');
    await store.insertTask(queuedTask(tenant.id, 'tsk_1'));
    const assignedAt = new Date();
    const claimed = await store.claimTask({ taskId: 'tsk_1', delegate: s.claimant(), now: assignedAt, leaseExpiresAt: new Date(assignedAt.getTime() + 60_000) });
    const startedAt = new Date(assignedAt.getTime() + 5);
    s.held.set('tsk_1', { attempt: 1, type: 'echo', accepted: true, ackTimer: null, task: claimed!, startedAt });
    const recorder = new ResultRecorder({ store, lifecycle, slots: { pump: () => {} }, log: silentLog });
    await recorder.record(s, success(1));
    expect(await store.getTask(tenant.id, 'tsk_1')).toMatchObject({ state: 'succeeded', startedAt, assignedAt });
    expect(seen).toEqual(['running', 'succeeded']);
  });

  it('ignores the result of an attempt the delegate does not hold, and keeps the one it holds', async () => {
    const { store, tenant, lifecycle, s } = await setup();
    const recorder = new ResultRecorder({ store, lifecycle, slots: { pump: () => {} }, log: silentLog });
    await recorder.record(s, success(2));
    expect((await store.getTask(tenant.id, 'tsk_1'))?.state).toBe('running');
    expect(s.holds('tsk_1', 1)).toBe(true);
  });

  it('keeps a result the store refused and retries until it is recorded, holding the slot meanwhile', async () => {
    const { store, tenant, lifecycle, s } = await setup();
    const pumped: DelegateSession[] = [];
    const recorder = new ResultRecorder({ store: failingFirst(store, 2), lifecycle, slots: { pump: (x) => pumped.push(x) }, log: silentLog, retryDelayMs: 20 });
    await recorder.record(s, success(1));
    expect(s.held.get('tsk_1')?.resultPending).toBe(true);
    expect(recorder.retrying).toBe(1);
    // A duplicate of the pending result is not recorded twice.
    await recorder.record(s, success(1));
    await expect.poll(async () => (await store.getTask(tenant.id, 'tsk_1'))?.state, { timeout: 2_000 }).toBe('succeeded');
    await expect.poll(() => s.inFlight).toBe(0);
    expect(pumped).toEqual([s]);
    expect(recorder.retrying).toBe(0);
  });

  it('drops pending retries at stop', async () => {
    const { store, lifecycle, s } = await setup();
    const recorder = new ResultRecorder({ store: failingFirst(store, 1_000), lifecycle, slots: { pump: () => {} }, log: silentLog, retryDelayMs: 10_000 });
    await recorder.record(s, success(1));
    expect(recorder.retrying).toBe(1);
    recorder.stop();
    expect(recorder.retrying).toBe(0);
  });
});
