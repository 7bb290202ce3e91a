import { performance } from 'node:perf_hooks';
import { Fleet } from './agents.js';
import { benchControlPlane, tenantWithToken } from './cluster.js';
import { ECHO_PAYLOAD } from './dispatch-payload.js';
import { JsonClient } from './http-client.js';
import { runLoad, type LoadOptions, type LoadResult } from './load.js';

export interface DispatchOptions extends LoadOptions {
  delegateCounts: number[];
}

export interface DispatchRow extends LoadResult {
  delegates: number;
  /** Absent: one POST /v1/tasks?waitSeconds per task. `batch`: POST /v1/tasks/batch and the event stream. */
  mode?: 'batch';
  /** Where the control plane keeps its state: embedded SQLite or a PostgreSQL server. */
  store?: 'sqlite' | 'postgres';
  /** Control-plane replicas sharing the store (and, above one, a NATS bus); the load is spread over all. */
  replicas?: number;
  /** PostgreSQL rows: statements the server ran per task (pg_stat_statements), by statement. */
  statements?: { perTask: number; top: Array<{ query: string; perTask: number; meanMs: number }> };
  /** PostgreSQL rows: CPU milliseconds per task created, of the control plane(s) and of their PostgreSQL backends. */
  cpuMsPerTask?: { controlPlane: number; postgres: number };
  notes?: string;
}

/** Where the per-task load goes: each replica's API and gRPC address, and the tenant's credentials. */
export interface DispatchTarget {
  httpUrls: string[];
  grpcUrls: string[];
  apiKey: string;
  token: string;
}

/**
 * The public path end to end: POST /v1/tasks?waitSeconds → routing → Assign over gRPC → in-process
 * delegate → Result → stored → the same request answers with the ended task. Times are taken with
 * performance.now() in this one process: create→assigned ends at the delegate's taskStarted,
 * create→result when that request answers. A fresh control plane per
 * delegate count, so one run's queue and database do not weigh on the next.
 */
export async function runDispatch(opts: DispatchOptions, log: (s: string) => void): Promise<DispatchRow[]> {
  const rows: DispatchRow[] = [];
  for (const delegates of opts.delegateCounts) {
    const cp = await benchControlPlane();
    try {
      const { apiKey, token } = await tenantWithToken(cp, `dispatch-${delegates}`);
      const r = await measureDispatch({ httpUrls: [cp.httpUrl], grpcUrls: [cp.grpcUrl], apiKey, token }, delegates, opts);
      log(`  attache (sqlite), ${delegates} delegate(s): ${summary(r, opts)}`);
      rows.push({ delegates, ...r, store: 'sqlite', replicas: 1 });
    } finally {
      await cp.stop();
    }
  }
  return rows;
}

export function summary(r: LoadResult, opts: LoadOptions): string {
  return (
    `${r.throughput.jobsPerSecond.toFixed(0)} tasks/s (${r.throughput.errors} errors); ` +
    `at ${opts.latencyRate}/s create→result p50 ${r.latency.result.p50.toFixed(2)} ms p99 ${r.latency.result.p99.toFixed(2)} ms`
  );
}

/**
 * The closed and open loops of runLoad against one or more replicas. With several, clients take
 * the replicas in turn (each task is created and awaited on one replica, the next task on the
 * next), and the delegates are dealt out over the replicas the same way, so every replica serves
 * API calls and holds delegates. `onSubmitted` counts each task that was created.
 */
export async function measureDispatch(target: DispatchTarget, delegates: number, opts: LoadOptions, onCreated?: () => void): Promise<LoadResult> {
  const replicas = target.httpUrls.length;
  const apis = target.httpUrls.map((url) => new JsonClient(url, target.apiKey, opts.concurrency + 8));
  const fleets: Fleet[] = [];
  try {
    // Enough slots in total that delegates are never the bottleneck, as in a sized deployment.
    const perDelegate = Math.max(10, Math.ceil((opts.concurrency * 2) / delegates));
    for (let r = 0; r < replicas; r++) {
      const count = Math.floor(delegates / replicas) + (r < delegates % replicas ? 1 : 0);
      if (count === 0) continue;
      fleets.push(await Fleet.start({ url: target.grpcUrls[r]!, token: target.token, name: `bench-r${r}`, count, tags: ['bench'], maxConcurrency: perDelegate }));
    }
    const started = new Map<string, number>();
    for (const fleet of fleets) for (const a of fleet.agents) a.on('taskStarted', (t) => started.set(t.taskId, performance.now()));

    let turn = 0;
    // One request per task: create and wait for its end in the same call (POST ?waitSeconds).
    const submit = async () => {
      const api = apis[turn++ % replicas]!;
      const t0 = performance.now();
      const done = await api.send<{ id: string; state: string }>('POST', '/v1/tasks?waitSeconds=30', { type: 'echo', payload: ECHO_PAYLOAD, selectors: ['bench'] });
      const t1 = performance.now();
      // 200: created and ended; 202: created, still running when the wait was over.
      if (done.status === 200 || done.status === 202) onCreated?.();
      if (done.status !== 200) return undefined;
      const s = started.get(done.body.id);
      started.delete(done.body.id);
      if (done.body.state !== 'succeeded' || s === undefined) return undefined;
      return { assigned: s - t0, result: t1 - t0 };
    };
    return await runLoad(submit, opts);
  } finally {
    for (const api of apis) api.close();
    await Promise.all(fleets.map((f) => f.stop()));
  }
}
