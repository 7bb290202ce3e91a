import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { summarise, type LatencySummary } from './stats.js';

/** One job through a system: ms from submit to pickup by a worker, and to the recorded result. */
export type Submit = () => Promise<{ assigned: number; result: number } | undefined>;

export interface LoadOptions {
  /** Closed-loop clients for the throughput phase. */
  concurrency: number;
  /** Jobs in the throughput phase. */
  tasks: number;
  /** Open-loop arrival rate of the latency phase ("moderate load"), jobs per second. */
  latencyRate: number;
  /** Jobs in the latency phase. */
  latencyTasks: number;
  /** Bound on each phase. */
  phaseTimeoutMs?: number;
}

export interface LoadResult {
  throughput: { jobsPerSecond: number; jobs: number; concurrency: number; errors: number; result: LatencySummary };
  latency: { rate: number; assigned: LatencySummary; result: LatencySummary; errors: number };
}

/**
 * The same load for every system: a warm-up, then a closed loop of `concurrency` clients for
 * throughput, then an open loop at a fixed rate for latency (arrivals do not wait for answers, so
 * a slow answer cannot hide the queueing behind it).
 */
export async function runLoad(submit: Submit, opts: LoadOptions): Promise<LoadResult> {
  const phaseTimeoutMs = opts.phaseTimeoutMs ?? 300_000;
  const safe = () => submit().catch(() => undefined);
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, 50) }, safe));

  let issued = 0;
  let errors = 0;
  const closed: number[] = [];
  const deadline = Date.now() + phaseTimeoutMs;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.concurrency }, async () => {
      while (issued < opts.tasks && Date.now() < deadline) {
        issued++;
        const r = await safe();
        if (r) closed.push(r.result);
        else errors++;
      }
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;

  const assigned: number[] = [];
  const result: number[] = [];
  let latencyErrors = 0;
  const pending: Array<Promise<void>> = [];
  const interval = 1000 / opts.latencyRate;
  const start = performance.now();
  const openDeadline = Date.now() + phaseTimeoutMs;
  for (let i = 0; i < opts.latencyTasks && Date.now() < openDeadline; i++) {
    const wait = start + i * interval - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(
      safe().then((r) => {
        if (!r) return void latencyErrors++;
        assigned.push(r.assigned);
        result.push(r.result);
      }),
    );
  }
  await Promise.all(pending);

  return {
    throughput: { jobsPerSecond: closed.length / elapsedS, jobs: closed.length, concurrency: opts.concurrency, errors, result: summarise(closed) },
    latency: { rate: opts.latencyRate, assigned: summarise(assigned), result: summarise(result), errors: latencyErrors },
  };
}
