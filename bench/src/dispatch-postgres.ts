import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startNats, type NatsHandle } from '@attache/testkit/nats';
import { startPostgres, type PostgresServer } from '@attache/testkit/postgres';
import { benchControlPlane, processUsage, tenantWithToken, type ControlPlaneHandle } from './cluster.js';
import { runBatchDispatch } from './dispatch-batch.js';
import { measureDispatch, summary, type DispatchRow } from './dispatch.js';
import type { LoadOptions } from './load.js';

export interface PostgresDispatchOptions extends LoadOptions {
  delegateCounts: number[];
  /** Tasks of the batch + events row (one replica, the most delegates); 0 leaves it out. */
  batchTasks?: number;
  /** Replica counts to measure; above one the replicas share a nats-server bus. */
  replicaCounts: number[];
  /** When set, every control plane runs under the V8 CPU profiler and writes its profile here on exit. */
  cpuProfileDir?: string;
}

/** node refuses --cpu-prof in NODE_OPTIONS; this preload starts the same profiler (see the file). */
const CPU_PROFILE_PRELOAD = fileURLToPath(new URL('./cpu-profile.mjs', import.meta.url));

/** Statements of the throughput phase that name these are the bench's own probes, not the control plane's. */
const OWN = /pg_stat_statements/;

/**
 * The per-task public path (bench/src/dispatch.ts) with the control plane on PostgreSQL: the same
 * local server the peers use (Debian's PostgreSQL from @attache/testkit/postgres, fsync off), a
 * fresh database per row, one replica or several sharing it behind one nats-server (as the
 * scale-out e2e tests run them). The server loads pg_stat_statements, so each row also says how
 * many statements (round trips) one task costs, and which.
 */
export async function runPostgresDispatch(opts: PostgresDispatchOptions, log: (s: string) => void): Promise<DispatchRow[]> {
  const server = await startPostgres({ settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' } });
  let nats: NatsHandle | undefined;
  const rows: DispatchRow[] = [];
  try {
    if (opts.replicaCounts.some((n) => n > 1)) nats = await startNats();
    let db = 0;
    for (const replicas of opts.replicaCounts) {
      for (const delegates of opts.delegateCounts) {
        rows.push(await runOne(server, nats, `attache_${++db}`, replicas, delegates, opts, log));
      }
    }
    // The batch API and the event stream on the same server: the path that compares with the
    // peers' batched adds (graphile-worker's addJobs), as the SQLite batch row does.
    if (opts.batchTasks) {
      const delegates = Math.max(...opts.delegateCounts);
      const url = await server.createDatabase(`attache_${++db}`);
      const row = await runBatchDispatch({ delegates, tasks: opts.batchTasks, batchSize: 1_000, inFlight: 4, controlPlaneEnv: { ATTACHE_DATABASE_URL: url, ATTACHE_REPLICA_ID: 'bench-batch' } }, log);
      rows.push({ ...row, store: 'postgres', replicas: 1, notes: 'PostgreSQL 15 (fsync off), one replica; POST /v1/tasks/batch and GET /v1/events' });
    }
  } finally {
    await nats?.stop();
    await server.stop();
  }
  return rows;
}

async function runOne(
  server: PostgresServer,
  nats: NatsHandle | undefined,
  name: string,
  replicas: number,
  delegates: number,
  opts: PostgresDispatchOptions,
  log: (s: string) => void,
): Promise<DispatchRow> {
  const url = await server.createDatabase(name);
  const profiling: Record<string, string> = opts.cpuProfileDir ? { NODE_OPTIONS: `--import=${CPU_PROFILE_PRELOAD}`, BENCH_CPU_PROFILE_DIR: opts.cpuProfileDir } : {};
  const env = (i: number): Record<string, string> => ({
    ATTACHE_DATABASE_URL: url,
    ATTACHE_REPLICA_ID: `bench-${i}`,
    ...(replicas > 1 && nats ? { ATTACHE_NATS_URL: nats.url } : {}),
    ...profiling,
  });
  const cps: ControlPlaneHandle[] = [];
  const stats = new pg.Client({ connectionString: url });
  try {
    // The first replica migrates the empty database; the others then start on it together.
    cps.push(await benchControlPlane(env(0)));
    cps.push(...(await Promise.all(Array.from({ length: replicas - 1 }, (_, i) => benchControlPlane(env(i + 1))))));
    // Tenant, key and token live in the shared database: made through the first replica, good on all.
    const { apiKey, token } = await tenantWithToken(cps[0]!, `dispatch-pg-${replicas}-${delegates}`);
    await stats.connect();
    await stats.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await stats.query('SELECT pg_stat_statements_reset()');
    let created = 0;
    const cpBefore = await cpuSeconds(cps.map((c) => c.proc.child.pid!));
    const r = await measureDispatch({ httpUrls: cps.map((c) => c.httpUrl), grpcUrls: cps.map((c) => c.grpcUrl), apiKey, token }, delegates, opts, () => created++);
    const cpAfter = await cpuSeconds(cps.map((c) => c.proc.child.pid!));
    // The server's backends serving the control planes (their pools stay open through the run).
    const backends = await stats.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE application_name = 'attache-control-plane'`);
    const pgSeconds = await cpuSeconds(backends.rows.map((b) => b.pid));
    const statements = await statementsPerTask(stats, created);
    const cpuMsPerTask = { controlPlane: ((cpAfter - cpBefore) * 1000) / created, postgres: (pgSeconds * 1000) / created };
    log(`  attache (postgres, ${replicas} replica(s)), ${delegates} delegate(s): ${summary(r, opts)}; ${statements.perTask.toFixed(1)} statements per task; CPU per task ${cpuMsPerTask.controlPlane.toFixed(2)} ms control plane, ${cpuMsPerTask.postgres.toFixed(2)} ms PostgreSQL`);
    for (const s of statements.top.slice(0, 8)) log(`      ${s.perTask.toFixed(2)}/task  ${s.meanMs.toFixed(3)} ms  ${s.query}`);
    return {
      delegates,
      ...r,
      store: 'postgres',
      replicas,
      statements,
      cpuMsPerTask,
      notes: `PostgreSQL 15 (fsync off), ${replicas === 1 ? 'one replica' : `${replicas} replicas behind nats-server, clients and delegates alternating between them`}`,
    };
  } finally {
    await stats.end().catch(() => undefined);
    await Promise.all(cps.map((c) => c.stop()));
  }
}

/** User + system CPU seconds of these processes so far, from /proc; a process gone counts 0. */
async function cpuSeconds(pids: number[]): Promise<number> {
  const each = await Promise.all(pids.map((pid) => processUsage(pid).then((u) => u.cpuSeconds, () => 0)));
  return each.reduce((a, b) => a + b, 0);
}

async function statementsPerTask(client: pg.Client, tasks: number): Promise<NonNullable<DispatchRow['statements']>> {
  const res = await client.query<{ query: string; calls: string; mean: number }>(
    'SELECT query, calls, mean_exec_time AS mean FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY calls DESC',
  );
  const rows = res.rows.filter((r) => !OWN.test(r.query));
  const per = (calls: string) => (tasks > 0 ? Number(calls) / tasks : 0);
  return {
    perTask: rows.reduce((sum, r) => sum + per(r.calls), 0),
    top: rows.slice(0, 12).map((r) => ({ query: r.query.replace(/\s+/g, ' ').slice(0, 120), perTask: per(r.calls), meanMs: r.mean })),
  };
}
