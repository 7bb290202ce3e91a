import { performance } from 'node:perf_hooks';
import { Logger, makeWorkerUtils, run, type AddJobsJobSpec } from 'graphile-worker';
import { startPostgres } from '@attache/testkit/postgres';
import { ECHO_PAYLOAD } from '../dispatch-payload.js';
import { runLoad, type LoadOptions } from '../load.js';
import type { PeerRow, Waiter } from './peer-row.js';

/** Completions are written in batches gathered for this long; 0 means "what arrived in the same turn". */
const COMPLETE_BATCH_DELAY_MS = 0;

/**
 * graphile-worker on a local PostgreSQL with the batching levers its performance guide names on:
 * jobs inserted with addJobs (every submit that arrives in the same event-loop turn goes in one
 * statement), a local queue that fetches and locks concurrency + 1 jobs at a time, completions
 * batched, prepared statements. Its runner is in this process, like our delegates, and is woken by
 * LISTEN/NOTIFY, not by polling. A job is done when 'job:complete' fires: the result is written.
 */
export async function runGraphileWorker(opts: LoadOptions, slots: number): Promise<PeerRow> {
  const pg = await startPostgres();
  // Its own logger, silent: the default logs every job at info level, which is a benchmark of console.log.
  const logger = new Logger(() => () => undefined);
  const preset = {
    worker: {
      connectionString: pg.url,
      concurrentJobs: slots,
      maxPoolSize: 10,
      preparedStatements: true,
      localQueue: { size: slots + 1 },
      completeJobBatchDelay: COMPLETE_BATCH_DELAY_MS,
      failJobBatchDelay: COMPLETE_BATCH_DELAY_MS,
    },
  };
  const utils = await makeWorkerUtils({ connectionString: pg.url, logger });
  const waiters = new Map<number, Waiter>();
  let runner: Awaited<ReturnType<typeof run>> | undefined;
  try {
    await utils.migrate();
    runner = await run({
      preset,
      logger,
      noHandleSignals: true,
      taskList: {
        echo: async (payload) => {
          const w = waiters.get((payload as { seq: number }).seq);
          if (w) w.assigned = performance.now();
          // graphile-worker keeps no result: a completed job is deleted, which is its "done".
        },
      },
    });
    runner.events.on('job:complete', ({ job, error }) => {
      const seq = (job.payload as { seq: number }).seq;
      const w = waiters.get(seq);
      if (!w || error) return;
      waiters.delete(seq);
      const now = performance.now();
      w.resolve({ assigned: (w.assigned ?? now) - w.t0, result: now - w.t0 });
    });

    // Batch insert: submits of one turn become one addJobs call, as a busy producer would send them.
    let pending: AddJobsJobSpec[] = [];
    let failers: Array<(err: unknown) => void> = [];
    const flush = () => {
      const specs = pending;
      const fail = failers;
      pending = [];
      failers = [];
      utils.addJobs(specs).catch((err: unknown) => fail.forEach((f) => f(err)));
    };
    let seq = 0;
    const submit = () =>
      new Promise<{ assigned: number; result: number }>((resolve, reject) => {
        const id = ++seq;
        // The key rides in the payload, so a job finished before addJobs answers is still matched.
        waiters.set(id, { t0: performance.now(), resolve });
        if (pending.length === 0) setImmediate(flush);
        pending.push({ identifier: 'echo', payload: { ...ECHO_PAYLOAD, seq: id } });
        failers.push(reject);
      });
    const r = await runLoad(submit, opts);
    return {
      peer: 'graphile-worker',
      notes: `PostgreSQL 15 (fsync off), concurrency ${slots}, local queue ${slots + 1}, batched addJobs and completions, prepared statements`,
      ...r,
    };
  } finally {
    await runner?.stop().catch(() => undefined);
    await utils.release();
    await pg.stop();
  }
}
