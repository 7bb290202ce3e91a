import { performance } from 'node:perf_hooks';
import PgBoss from 'pg-boss';
import { startPostgres } from '@attache/testkit/postgres';
import { ECHO_PAYLOAD } from '../dispatch-payload.js';
import { runLoad, type LoadOptions } from '../load.js';
import type { PeerRow, Waiter } from './peer-row.js';

/**
 * pg-boss on a local PostgreSQL: send → fetch → complete, with the completion awaited (pg-boss's
 * own work() does not await it, so its callers cannot know when a job is recorded done). Consumers
 * run in this process and are woken by a send here, as pg-boss's notifyWorker does; across
 * processes pg-boss would poll (at least every 0.5 s).
 */
export async function runPgBoss(opts: LoadOptions, slots: number): Promise<PeerRow> {
  const pg = await startPostgres();
  const boss = new PgBoss({ connectionString: pg.url, max: 10 });
  boss.on('error', () => undefined);
  const waiters = new Map<string, Waiter>();
  /** Jobs done before send()'s answer reached us (another connection saw the commit first). */
  const early = new Map<string, { assigned: number; done: number }>();
  let stopping = false;
  let wake: (() => void) | undefined;
  const nudge = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const consumers = 4;
  const batchSize = Math.max(1, Math.ceil(slots / consumers));
  const consume = async () => {
    while (!stopping) {
      const jobs = await boss.fetch<typeof ECHO_PAYLOAD>('bench', { batchSize }).catch(() => []);
      if (jobs.length === 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 500);
          const prev = wake;
          wake = () => {
            clearTimeout(timer);
            prev?.();
            resolve();
          };
        });
        continue;
      }
      const now = performance.now();
      for (const j of jobs) {
        const w = waiters.get(j.id);
        if (w) w.assigned = now;
      }
      await boss.complete('bench', jobs.map((j) => j.id));
      const done = performance.now();
      for (const j of jobs) {
        const w = waiters.get(j.id);
        if (!w) {
          early.set(j.id, { assigned: now, done });
          continue;
        }
        waiters.delete(j.id);
        w.resolve({ assigned: (w.assigned ?? done) - w.t0, result: done - w.t0 });
      }
    }
  };
  let loops: Array<Promise<void>> = [];
  try {
    await boss.start();
    await boss.createQueue('bench');
    loops = Array.from({ length: consumers }, consume);
    const submit = async () => {
      const t0 = performance.now();
      const id = await boss.send('bench', ECHO_PAYLOAD);
      if (!id) return undefined;
      const e = early.get(id);
      if (e) {
        early.delete(id);
        return { assigned: e.assigned - t0, result: e.done - t0 };
      }
      const p = new Promise<{ assigned: number; result: number }>((resolve) => {
        waiters.set(id, { t0, resolve });
      });
      nudge();
      return p;
    };
    const r = await runLoad(submit, opts);
    return { peer: 'pg-boss', notes: `PostgreSQL 15 (fsync off), ${consumers} consumers × batch ${batchSize}`, ...r };
  } finally {
    stopping = true;
    nudge();
    await Promise.allSettled(loops);
    await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
    await pg.stop();
  }
}
