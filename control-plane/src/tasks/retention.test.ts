import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store, TaskRecord } from '../store/store.js';
import { queuedTask } from '../delegates/test-support.js';
import { TaskRetention } from './retention.js';

const log = pino({ level: 'silent' });
const DAY = 86_400_000;

/** A queued echo task created at `at`. */
function task(tenantId: string, id: string, at: Date): TaskRecord {
  return queuedTask(tenantId, id, { payload: { message: 'steady' }, createdAt: at, queuedAt: at });
}

async function openStore(): Promise<Store> {
  const store = SqliteStore.open({ path: ':memory:' });
  await store.migrate();
  const at = new Date(0);
  await store.createTenant({ id: 't', name: 't', externalId: 'x', createdAt: at }, { id: 'k', tenantId: 't', hash: 'h', createdAt: at });
  return store;
}

async function countTasks(store: Store): Promise<number> {
  return (await store.listTasks('t', { limit: 1_000_000 })).length;
}

describe('TaskRetention', () => {
  it('keeps the table at a steady size under a steady load: what ended more than the retention ago goes', async () => {
    const store = await openStore();
    let now = Date.UTC(2025, 0, 1);
    const retention = new TaskRetention(store, { retentionDays: 3, intervalMs: 60_000, log, now: () => new Date(now), batchSize: 40, pauseMs: 0 });
    const perDay = 100;
    const sizes: number[] = [];
    try {
      for (let day = 0; day < 10; day++) {
        for (let i = 0; i < perDay; i++) {
          const t = task('t', `tsk_${day}_${String(i).padStart(3, '0')}`, new Date(now));
          await store.insertTask(t);
          await store.finishTask({ tenantId: 't', taskId: t.id, fromStates: ['queued'], state: 'cancelled', error: { code: 'CANCELLED', message: 'done', details: {} }, now: new Date(now + i) });
        }
        await retention.run();
        sizes.push(await countTasks(store));
        now += DAY;
      }
      // Days 0..3 fill up; from then on every day deletes as many as it adds.
      expect(sizes.slice(0, 4)).toEqual([100, 200, 300, 400]);
      expect(new Set(sizes.slice(4))).toEqual(new Set([400]));
      // The oldest kept tasks ended no earlier than the retention before the last run.
      const kept = await store.listTasks('t', { limit: 1_000_000 });
      const lastRun = now - DAY;
      expect(Math.min(...kept.map((t) => t.endedAt!.getTime()))).toBeGreaterThanOrEqual(lastRun - 3 * DAY);
    } finally {
      await store.close();
    }
  });

  it('deletes in batches of the given size with a pause between them, and never an open task', async () => {
    const store = await openStore();
    const now = Date.UTC(2025, 6, 1);
    const old = new Date(now - 40 * DAY);
    for (let i = 0; i < 1_234; i++) {
      const t = task('t', `tsk_old_${String(i).padStart(4, '0')}`, old);
      await store.insertTask({ ...t, state: 'succeeded', result: { i }, endedAt: old });
    }
    await store.insertTask(task('t', 'tsk_open_old', old)); // queued for 40 days: not ended, kept
    const batches: number[] = [];
    const counting = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'deleteEndedTasks') {
          return async (before: Date, limit: number) => {
            const n = await target.deleteEndedTasks(before, limit);
            batches.push(n);
            return n;
          };
        }
        const value = Reflect.get(target, prop, receiver) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const retention = new TaskRetention(counting, { retentionDays: 30, intervalMs: 60_000, log, now: () => new Date(now), batchSize: 500, pauseMs: 40 });
    try {
      const started = Date.now();
      expect(await retention.run()).toBe(1_234);
      expect(Date.now() - started).toBeGreaterThanOrEqual(2 * 40 - 5);
      expect(batches).toEqual([500, 500, 234]);
      expect((await store.listTasks('t', { limit: 10 })).map((t) => t.id)).toEqual(['tsk_open_old']);
    } finally {
      await store.close();
    }
  });
});
