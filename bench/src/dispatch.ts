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
  /** Absent: one POST and one waiting GET per task. `batch`: POST /v1/tasks/batch and the event stream. */
  mode?: 'batch';
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
    let fleet: Fleet | undefined;
    const { apiKey, token } = await tenantWithToken(cp, `dispatch-${delegates}`);
    const api = new JsonClient(cp.httpUrl, apiKey, opts.concurrency + 8);
    try {
      // Enough slots in total that delegates are never the bottleneck, as in a sized deployment.
      const perDelegate = Math.max(10, Math.ceil((opts.concurrency * 2) / delegates));
      fleet = await Fleet.start({ url: cp.grpcUrl, token, name: 'bench', count: delegates, tags: ['bench'], maxConcurrency: perDelegate });
      const started = new Map<string, number>();
      for (const a of fleet.agents) a.on('taskStarted', (t) => started.set(t.taskId, performance.now()));

      // One request per task: create and wait for the end in the same call (POST ?waitSeconds).
      const submit = async () => {
        const t0 = performance.now();
        const done = await api.send<{ id: string; state: string }>('POST', '/v1/tasks?waitSeconds=30', { type: 'echo', payload: ECHO_PAYLOAD, selectors: ['bench'] });
        const t1 = performance.now();
        if (done.status !== 200) return undefined;
        const id = done.body.id;
        const s = started.get(id);
        started.delete(id);
        if (done.body.state !== 'succeeded' || s === undefined) return undefined;
        return { assigned: s - t0, result: t1 - t0 };
      };
      const r = await runLoad(submit, opts);
      log(
        `  attache, ${delegates} delegate(s): ${r.throughput.jobsPerSecond.toFixed(0)} tasks/s (${r.throughput.errors} errors); ` +
          `at ${opts.latencyRate}/s create→result p50 ${r.latency.result.p50.toFixed(2)} ms p99 ${r.latency.result.p99.toFixed(2)} ms`,
      );
      rows.push({ delegates, ...r });
    } finally {
      api.close();
      await fleet?.stop();
      await cp.stop();
    }
  }
  return rows;
}
