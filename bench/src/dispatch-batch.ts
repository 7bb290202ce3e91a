import { request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createParser } from 'eventsource-parser';
import { Fleet } from './agents.js';
import { benchControlPlane, processUsage, tenantWithToken } from './cluster.js';
import type { DispatchRow } from './dispatch.js';
import { ECHO_PAYLOAD } from './dispatch-payload.js';
import { JsonClient } from './http-client.js';
import { summarise } from './stats.js';

export interface BatchDispatchOptions {
  delegates: number;
  tasks: number;
  /** Tasks per POST /v1/tasks/batch (the API takes up to 1,000). */
  batchSize: number;
  /** Batch requests in flight at once. */
  inFlight: number;
  /** Extra control-plane environment (a probe comparing settings, e.g. ATTACHE_DELEGATE_BATCH_ITEMS=0). */
  controlPlaneEnv?: Record<string, string>;
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'expired']);

/**
 * The high-rate public path: tasks created with POST /v1/tasks/batch, their ends learnt from one
 * GET /v1/events stream (task.state, ends only) instead of one waiting GET per task. A task counts when its
 * terminal event arrives; its latency runs from the start of its batch request to that event.
 * Throughput is tasks ended over the wall time from the first request to the last end.
 */
export async function runBatchDispatch(opts: BatchDispatchOptions, log: (s: string) => void): Promise<DispatchRow> {
  // A consumer of every task's end at this rate may fall a few MB behind in a burst; the default
  // (1 MiB) is sized for consoles.
  // The load keeps up to batchSize × inFlight tasks open at once; the default per-tenant queue quota is
  // not what this row measures.
  const cp = await benchControlPlane({ ATTACHE_EVENT_STREAM_MAX_PENDING_BYTES: String(64 * 1024 * 1024), ATTACHE_MAX_QUEUED_TASKS_PER_TENANT: '1000000', ...opts.controlPlaneEnv });
  const { apiKey, token } = await tenantWithToken(cp, `dispatch-batch-${opts.delegates}`);
  const api = new JsonClient(cp.httpUrl, apiKey, opts.inFlight + 4);
  let fleet: Fleet | undefined;
  let stream: { close: () => void } | undefined;
  try {
    const perDelegate = Math.max(10, Math.ceil((opts.batchSize * opts.inFlight) / opts.delegates));
    fleet = await Fleet.start({ url: cp.grpcUrl, token, name: 'bench', count: opts.delegates, tags: ['bench'], maxConcurrency: perDelegate });

    const requestedAt = new Map<string, number>();
    const latencies: number[] = [];
    let failed = 0;
    let ended = 0;
    let allEnded!: () => void;
    const done = new Promise<void>((r) => (allEnded = r));
    // Ends can arrive before the batch answer names their ids: keep them until it does.
    const early = new Map<string, { at: number; ok: boolean }>();
    const settle = (id: string, at: number, ok: boolean) => {
      const t0 = requestedAt.get(id);
      if (t0 === undefined) {
        early.set(id, { at, ok });
        return;
      }
      requestedAt.delete(id);
      latencies.push(at - t0);
      if (!ok) failed++;
      if (++ended === opts.tasks) allEnded();
    };
    stream = await openEventStream(cp.httpUrl, apiKey, (data) => {
      const event = JSON.parse(data) as { type: string; task?: { id: string; state: string } };
      if (event.type === 'task.state' && event.task && TERMINAL.has(event.task.state)) settle(event.task.id, performance.now(), event.task.state === 'succeeded');
    });

    const item = { type: 'echo', payload: ECHO_PAYLOAD, selectors: ['bench'] };
    let remaining = opts.tasks;
    let refused = 0;
    const started = performance.now();
    const cpuAtStart = await cpuSeconds(cp.proc.child.pid);
    const worker = async () => {
      while (remaining > 0) {
        const n = Math.min(opts.batchSize, remaining);
        remaining -= n;
        const t0 = performance.now();
        const res = await api.send<{ results: Array<{ status: number; task?: { id: string }; error?: { code: string } }> }>('POST', '/v1/tasks/batch', {
          tasks: Array.from({ length: n }, () => item),
        });
        if (res.status !== 200) throw new Error(`POST /v1/tasks/batch answered ${res.status}: ${JSON.stringify(res.body).slice(0, 300)}`);
        for (const r of res.body.results) {
          if (!r.task) {
            refused++;
            if (++ended === opts.tasks) allEnded();
            continue;
          }
          requestedAt.set(r.task.id, t0);
          const seen = early.get(r.task.id);
          if (seen) {
            early.delete(r.task.id);
            settle(r.task.id, seen.at, seen.ok);
          }
        }
      }
    };
    await Promise.all(Array.from({ length: opts.inFlight }, worker));
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise((_, reject) => (deadline = setTimeout(() => reject(new Error(`only ${ended} of ${opts.tasks} batch tasks ended within 120 s`)), 120_000)))]).finally(() =>
      clearTimeout(deadline),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpuAtEnd = await cpuSeconds(cp.proc.child.pid);
    const result = summarise(latencies);
    const jobsPerSecond = (opts.tasks - refused) / seconds;
    log(
      `  attache batch+events${opts.controlPlaneEnv?.['ATTACHE_DATABASE_URL'] ? ' (postgres)' : ''}, ${opts.delegates} delegate(s): ${jobsPerSecond.toFixed(0)} tasks/s ` +
        `(${opts.batchSize} per request, ${opts.inFlight} in flight; ${refused} refused, ${failed} failed); batch→end p50 ${result.p50.toFixed(1)} ms p99 ${result.p99.toFixed(1)} ms; ` +
        `CPU per task: control plane ${perTaskMs(cpuAtStart.controlPlane, cpuAtEnd.controlPlane, opts.tasks)} ms, bench process ${perTaskMs(cpuAtStart.bench, cpuAtEnd.bench, opts.tasks)} ms`,
    );
    return {
      delegates: opts.delegates,
      mode: 'batch',
      throughput: { jobsPerSecond, jobs: opts.tasks, concurrency: opts.batchSize * opts.inFlight, errors: refused + failed, result },
      // No open-loop phase in this mode: the latency block repeats the closed loop's, with its rate.
      latency: { rate: jobsPerSecond, assigned: summarise([]), result, errors: refused + failed },
    };
  } finally {
    stream?.close();
    api.close();
    await fleet?.stop();
    await cp.stop();
  }
}

/** CPU seconds so far of the control plane (from /proc) and of this process (which runs the delegates and clients). */
async function cpuSeconds(pid: number | undefined): Promise<{ controlPlane: number; bench: number }> {
  const controlPlane = pid === undefined ? Number.NaN : (await processUsage(pid).catch(() => ({ cpuSeconds: Number.NaN }))).cpuSeconds;
  const { user, system } = process.cpuUsage();
  return { controlPlane, bench: (user + system) / 1e6 };
}

function perTaskMs(from: number, to: number, tasks: number): string {
  return (((to - from) * 1000) / tasks).toFixed(3);
}

/** Opens GET /v1/events?types=task.state&states=ended (one event per task, its end) and hands each event's data to `onData`; resolves once the stream answered. */
function openEventStream(baseUrl: string, apiKey: string, onData: (data: string) => void): Promise<{ close: () => void }> {
  const url = new URL('/v1/events?types=task.state&states=ended', baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${apiKey}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET /v1/events answered ${res.statusCode}`));
        res.resume();
        return;
      }
      const parser = createParser({ onEvent: (e) => onData(e.data) });
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => parser.feed(chunk));
      resolve({ close: () => req.destroy() });
    });
    req.on('error', (err) => reject(err));
    req.end();
  });
}
