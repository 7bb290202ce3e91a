import { performance } from 'node:perf_hooks';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { startRedis, type StartRedisOptions } from '@attache/testkit/redis';
import { ECHO_PAYLOAD } from '../dispatch-payload.js';
import { runLoad, type LoadOptions } from '../load.js';
import type { PeerRow, Waiter } from './peer-row.js';

/**
 * BullMQ on a local redis-server: Queue.add → Worker (in this process, like our delegates) → the
 * job is stored completed in Redis, which is when the Worker emits 'completed'. `persistence`
 * picks the server's durability: none (the fastest BullMQ can be) or the append-only file synced
 * every second (what a deployment that must not lose its queue on a crash runs).
 */
export async function runBullmq(opts: LoadOptions, slots: number, persistence: NonNullable<StartRedisOptions['persistence']> = 'none'): Promise<PeerRow> {
  const redis = await startRedis({ persistence });
  // BullMQ under native ESM wants constructed clients; the Worker duplicates its own for blocking reads.
  const producer = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null });
  const consumer = new Redis({ host: '127.0.0.1', port: redis.port, maxRetriesPerRequest: null });
  const queue = new Queue('bench', { connection: producer });
  const waiters = new Map<string, Waiter>();
  const worker = new Worker(
    'bench',
    async (job) => {
      const w = waiters.get(job.id ?? '');
      if (w) w.assigned = performance.now();
      return job.data as unknown;
    },
    { connection: consumer, concurrency: slots },
  );
  worker.on('completed', (job) => {
    const w = waiters.get(job.id ?? '');
    if (!w) return;
    waiters.delete(job.id ?? '');
    const now = performance.now();
    w.resolve({ assigned: (w.assigned ?? now) - w.t0, result: now - w.t0 });
  });
  let seq = 0;
  try {
    await worker.waitUntilReady();
    const submit = () =>
      new Promise<{ assigned: number; result: number }>((resolve, reject) => {
        const jobId = `j${++seq}`;
        waiters.set(jobId, { t0: performance.now(), resolve });
        // Completed jobs are removed, as our tasks would be by retention in a long run.
        queue.add('echo', ECHO_PAYLOAD, { jobId, removeOnComplete: true }).catch(reject);
      });
    const r = await runLoad(submit, opts);
    return persistence === 'none'
      ? { peer: 'bullmq', notes: `redis-server (no persistence), Worker concurrency ${slots}`, ...r }
      : { peer: 'bullmq-aof', notes: `redis-server (appendonly yes, appendfsync everysec), Worker concurrency ${slots}`, ...r };
  } finally {
    await worker.close();
    await queue.close();
    producer.disconnect();
    consumer.disconnect();
    await redis.stop();
  }
}

