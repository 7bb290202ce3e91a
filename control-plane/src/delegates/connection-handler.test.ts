import { create, toBinary } from '@bufbuild/protobuf';
import { DelegateFrameSchema, echo, GoodbyeCode, type DelegateFrame } from '@attache/proto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Store } from '../store/store.js';
import { Dispatcher } from '../tasks/dispatcher.js';
import { LeaseKeeper } from '../tasks/lease-keeper.js';
import { Requeuer } from '../tasks/requeue.js';
import { ResultRecorder } from '../tasks/result-recorder.js';
import { ConnectionHandler } from './connection-handler.js';
import { HandshakePacer } from './handshake-pacer.js';
import { SessionRegistry } from './session-registry.js';
import { FakeConnection, queuedTask, realLifecycle, realStore, seedTenant, session, silentLog } from './test-support.js';

const stops: Array<() => void> = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

const success = (message: string) => ({ case: 'success' as const, value: toBinary(echo.EchoResultSchema, create(echo.EchoResultSchema, { message })) });
type BatchItemInit = { case: 'accepted'; value: { taskId: string; attempt: number } } | { case: 'result' | 'acceptedResult'; value: { taskId: string; attempt: number; outcome?: ReturnType<typeof success> } };
const batch = (...items: BatchItemInit[]): DelegateFrame => create(DelegateFrameSchema, { frame: { case: 'batch', value: { items: items.map((item) => ({ item })) } } });

/** A real store, dispatcher, result recorder and lease keeper behind the handler; the handshake is the seam. */
async function setup(batchItems = 256) {
  const store = await realStore();
  const tenant = await seedTenant(store, 'acme');
  const { bus, lifecycle, metrics } = realLifecycle(store);
  const registry = new SessionRegistry();
  const requeue = new Requeuer(store, lifecycle, metrics, silentLog);
  const timing = { ackTimeoutMs: 5_000, heartbeatTimeoutMs: 5_000, heartbeatIntervalMs: 1_000, runningWriteDelayMs: 250, delegateBatchItems: batchItems };
  const dispatcher = new Dispatcher({ store, bus, sessions: registry, requeue, lifecycle, metrics, timing, log: silentLog });
  // Counts completeTask calls in flight at once: results of one frame must not wait on each other.
  let inFlight = 0;
  let maxInFlight = 0;
  const counted: Pick<Store, 'completeTask'> = {
    completeTask: async (c) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        return await store.completeTask(c);
      } finally {
        inFlight--;
      }
    },
  };
  const results = new ResultRecorder({ store: counted, lifecycle, slots: dispatcher, log: silentLog });
  const leases = new LeaseKeeper({ store, sessions: registry, requeue, slots: dispatcher, timing, log: silentLog });
  const connection = new FakeConnection('adt_x');
  for (const id of ['tsk_1', 'tsk_2', 'tsk_3']) await store.insertTask(queuedTask(tenant.id, id));
  const s = session({ id: 'dlg_a', tenantId: tenant.id, maxConcurrency: 8 }, connection, Math.min(16, batchItems)).session;
  registry.add(s);
  const handler = new ConnectionHandler({
    handshake: { run: async () => (s.transition('registering', 'connected'), { session: s, stale: [], lost: [] }) },
    pacer: new HandshakePacer({ maxInFlight: 10 }),
    dispatcher,
    results,
    leases,
    requeue,
    store,
    metrics,
    timing,
    log: silentLog,
  });
  stops.push(() => handler.stop());
  const handlers: Array<(f: DelegateFrame) => void> = [];
  const original = connection.onFrame.bind(connection);
  connection.onFrame = (h) => (handlers.push(h), original(h));
  handler.accept(connection);
  await expect.poll(() => s.held.size).toBe(3);
  const deliver = (f: DelegateFrame) => handlers.forEach((h) => h(f));
  const task = (id: string) => store.getTask(tenant.id, id);
  return { store, tenant, s, connection, deliver, task, metrics, maxInFlight: () => maxInFlight };
}

describe('ConnectionHandler: batched delegate frames', () => {
  it('handles each item as its single frame, folded Accepted+Result included, and records the results of one batch together', async () => {
    const { s, connection, deliver, task, metrics, maxInFlight } = await setup();
    // The pump's claim of three went out as one AssignBatch (the session takes batches).
    expect(connection.cases()).toEqual(['assignBatch']);
    deliver(
      batch(
        { case: 'acceptedResult', value: { taskId: 'tsk_1', attempt: 1, outcome: success('one') } },
        { case: 'acceptedResult', value: { taskId: 'tsk_2', attempt: 1, outcome: success('two') } },
        { case: 'accepted', value: { taskId: 'tsk_3', attempt: 1 } },
      ),
    );
    await expect.poll(async () => (await task('tsk_2'))?.state).toBe('succeeded');
    const one = await task('tsk_1');
    expect(one).toMatchObject({ state: 'succeeded', result: { message: 'one' } });
    expect(one?.startedAt).not.toBeNull();
    expect(s.held.get('tsk_3')?.accepted).toBe(true);
    expect(maxInFlight()).toBe(2);
    const text = await metrics.registry.metrics();
    expect(text).toContain('attache_delegate_task_frames_total{direction="received",frame="batch"} 1');
    expect(text).toContain('attache_delegate_task_frame_items_total{direction="received",frame="batch"} 3');
    expect(connection.closedWith).toBeUndefined();
  });

  it('refuses a batch with one bad item with that frame\'s Goodbye, before handling any item', async () => {
    const { connection, deliver, task } = await setup();
    deliver(batch({ case: 'acceptedResult', value: { taskId: 'tsk_1', attempt: 1, outcome: success('one') } }, { case: 'result', value: { taskId: '', attempt: 1 } }));
    await expect.poll(() => connection.closedWith?.code).toBe(GoodbyeCode.PROTOCOL_ERROR);
    expect(connection.closedWith?.message).toBe('Protocol error: Result with an invalid task_id.');
    expect((await task('tsk_1'))?.state).not.toBe('succeeded');
  });

  it('refuses a batch over the announced item count with BATCH_TOO_LARGE, and any batch when batches are off', async () => {
    const small = await setup(2);
    small.deliver(batch(...['tsk_1', 'tsk_2', 'tsk_3'].map((taskId) => ({ case: 'accepted' as const, value: { taskId, attempt: 1 } }))));
    await expect.poll(() => small.connection.closedWith?.code).toBe(GoodbyeCode.BATCH_TOO_LARGE);
    expect(small.connection.closedWith?.message).toContain('3 items is more than the 2');

    const off = await setup(0);
    // With batches off the assignments went one frame each, as to a delegate that predates them.
    expect(off.connection.cases()).toEqual(['assign', 'assign', 'assign']);
    off.deliver(batch({ case: 'accepted', value: { taskId: 'tsk_1', attempt: 1 } }));
    await expect.poll(() => off.connection.closedWith?.code).toBe(GoodbyeCode.BATCH_TOO_LARGE);
  });

  it('refuses an empty batch as a protocol error', async () => {
    const { connection, deliver } = await setup();
    deliver(batch());
    await expect.poll(() => connection.closedWith?.code).toBe(GoodbyeCode.PROTOCOL_ERROR);
  });
});
