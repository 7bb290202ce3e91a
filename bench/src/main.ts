/**
 * `npm run bench`: every section in one run, so that Attaché, the gRPC floor and the peers are
 * measured on the same machine under the same conditions. Prints the tables, writes
 * bench/results/<time>.json and latest.json, and regenerates docs/performance.md and its chart.
 *
 *   npm run bench                                   # defaults (several minutes)
 *   npm run bench -- --quick                        # small sizes, seconds per section
 *   npm run bench -- --only dispatch,floor --delegates 1,10 --tasks 5000
 *   npm run bench -- --only connections --connections 10000
 *   npm run bench -- --only dispatch --stores postgres --pg-delegates 10 --pg-replicas 1,2 --tasks 2000
 *   npm run bench -- --only transports --connections 1000    # idle cost of TCP, node:http2, grpc-js variants
 *   npm run bench -- --only masking --no-write      # print the tables, write nothing
 *   npm run bench -- --only masking --merge         # replace only this section in latest.json
 *   npm run bench -- --render                       # measure nothing: docs/performance.md again from latest.json and bench/analysis.md
 *
 * Every flag also reads BENCH_<NAME> from the environment (BENCH_TASKS=5000).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runConnections } from './connections.js';
import { runDispatch, type DispatchRow } from './dispatch.js';
import { runPostgresDispatch } from './dispatch-postgres.js';
import { runBatchDispatch } from './dispatch-batch.js';
import { runFloor } from './floor.js';
import { runIdleCost } from './idle-cost.js';
import { runMasking } from './masking.js';
import { runPeers } from './peers/index.js';
import { chart, machine, tables, type BenchResults } from './report.js';
import { runValidation } from './validation.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SECTIONS = ['dispatch', 'floor', 'peers', 'connections', 'transports', 'validation', 'masking'] as const;
type Section = (typeof SECTIONS)[number];

const { values } = parseArgs({
  options: {
    only: { type: 'string' },
    quick: { type: 'boolean' },
    delegates: { type: 'string' },
    concurrency: { type: 'string' },
    tasks: { type: 'string' },
    stores: { type: 'string' },
    'pg-delegates': { type: 'string' },
    'pg-replicas': { type: 'string' },
    'cpu-prof-dir': { type: 'string' },
    'latency-rate': { type: 'string' },
    'latency-tasks': { type: 'string' },
    'floor-pings': { type: 'string' },
    connections: { type: 'string' },
    'connection-workers': { type: 'string' },
    carriers: { type: 'string' },
    'idle-seconds': { type: 'string' },
    'validation-runs': { type: 'string' },
    'masking-validations': { type: 'string' },
    'no-write': { type: 'boolean' },
    merge: { type: 'boolean' },
    render: { type: 'boolean' },
    help: { type: 'boolean' },
  },
});

if (values.help) {
  process.stdout.write(`usage: npm run bench -- [--quick] [--only ${SECTIONS.join(',')}] [--delegates 1,10,100] [--concurrency N]
  [--tasks N] [--stores sqlite,postgres] [--pg-delegates 10,100] [--pg-replicas 1,2] [--cpu-prof-dir DIR] [--latency-rate N] [--latency-tasks N] [--floor-pings N] [--connections N] [--connection-workers N] [--carriers grpc,websocket,nats] [--idle-seconds N]
  [--validation-runs N] [--masking-validations 10,100,1000,10000] [--no-write] [--merge] [--render]   (each flag also as BENCH_<NAME> in the environment)\n`);
  process.exit(0);
}

const quick = values.quick ?? process.env['BENCH_QUICK'] === '1';
function opt(name: keyof typeof values, full: string, small: string): string {
  const v = values[name];
  if (typeof v === 'string') return v;
  return process.env[`BENCH_${name.toUpperCase().replace(/-/g, '_')}`] ?? (quick ? small : full);
}
function num(name: keyof typeof values, full: number, small: number): number {
  const n = Number(opt(name, String(full), String(small)));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`);
  return n;
}

function counts(name: keyof typeof values, full: string, small: string): number[] {
  const list = opt(name, full, small).split(',').map(Number);
  if (!list.every((n) => Number.isInteger(n) && n > 0)) throw new Error(`--${name} must be a comma-separated list of positive integers`);
  return list;
}

const only = new Set(opt('only', SECTIONS.join(','), SECTIONS.join(',')).split(',').map((s) => s.trim()) as Section[]);
const options = {
  delegates: opt('delegates', '1,10,100', '1,10').split(',').map(Number),
  stores: opt('stores', 'sqlite,postgres', 'sqlite,postgres').split(',').map((s) => s.trim()),
  pgDelegates: counts('pg-delegates', '10,100', '10'),
  pgReplicas: counts('pg-replicas', '1,2', '1,2'),
  concurrency: num('concurrency', 64, 16),
  tasks: num('tasks', 20_000, 1_000),
  latencyRate: num('latency-rate', 200, 100),
  latencyTasks: num('latency-tasks', 2_000, 300),
  floorPings: num('floor-pings', 5_000, 500),
  connections: num('connections', 10_000, 200),
  connectionWorkers: num('connection-workers', 4, 2),
  carriers: opt('carriers', 'grpc,websocket,nats', 'grpc,websocket,nats').split(',').map((s) => s.trim()),
  idleSeconds: num('idle-seconds', 15, 5),
  validationRuns: num('validation-runs', 50, 10),
  maskingValidations: counts('masking-validations', '10,100,1000,10000', '10,1000'),
};
const load = { concurrency: options.concurrency, tasks: options.tasks, latencyRate: options.latencyRate, latencyTasks: options.latencyTasks };
const log = (s: string) => process.stderr.write(`${s}\n`);

if (values.render) {
  // After editing bench/analysis.md or report.ts: the page again, from the numbers already measured.
  const measured = JSON.parse(await readFile(join(ROOT, 'bench/results/latest.json'), 'utf8')) as BenchResults & { failures?: string[]; options: { quick?: boolean } };
  await writeDocs(measured, measured.failures ?? [], measured.options.quick === true);
  process.exit(0);
}

const started = new Date();
const results: BenchResults = { startedAt: started.toISOString(), durationSeconds: 0, machine: machine(), options: { ...options, quick, sections: [...only] } };
const failures: string[] = [];
async function section<T>(name: Section, run: () => Promise<T>): Promise<T | undefined> {
  if (!only.has(name)) return undefined;
  log(`== ${name}`);
  try {
    return await run();
  } catch (err) {
    // One broken section must not cost the others' numbers; the failure is reported, never hidden.
    failures.push(`${name}: ${(err as Error).stack ?? String(err)}`);
    log(`  ${name} FAILED: ${(err as Error).message}`);
    return undefined;
  }
}

results.floor = await section('floor', () => runFloor({ pings: options.floorPings, concurrency: options.concurrency, streams: 4, messages: options.tasks }));
results.dispatch = await section('dispatch', async () => {
  const rows: DispatchRow[] = [];
  if (options.stores.includes('sqlite')) {
    rows.push(...(await runDispatch({ ...load, delegateCounts: options.delegates }, log)));
    const delegates = Math.max(...options.delegates);
    rows.push({ ...(await runBatchDispatch({ delegates, tasks: Math.max(options.tasks, 10_000), batchSize: 1_000, inFlight: 4 }, log)), store: 'sqlite', replicas: 1 });
  }
  if (options.stores.includes('postgres')) {
    // A profile per control plane (node --cpu-prof), written when it exits: `--cpu-prof-dir DIR`.
    const cpuProfileDir = opt('cpu-prof-dir', '', '') || undefined;
    rows.push(...(await runPostgresDispatch({ ...load, delegateCounts: options.pgDelegates, replicaCounts: options.pgReplicas, batchTasks: Math.max(options.tasks, 10_000), ...(cpuProfileDir ? { cpuProfileDir } : {}) }, log)));
  }
  return rows;
});
const slots = options.concurrency * 2;
results.peers = await section('peers', () => runPeers(load, slots, log));
results.connections = await section('connections', () => runConnections({ delegates: options.connections, workers: options.connectionWorkers, idleSeconds: options.idleSeconds, carriers: options.carriers }, log));
// The bare-server rows stay at 2,000 unless --connections names a size: each variant holds them in one process.
const transportConnections = values.connections !== undefined || process.env['BENCH_CONNECTIONS'] !== undefined ? options.connections : quick ? 200 : 2_000;
results.transports = await section('transports', () => runIdleCost({ connections: transportConnections }, log));
results.validation = await section('validation', () => runValidation({ runs: options.validationRuns }, log));
results.masking = await section('masking', async () => runMasking({ validations: options.maskingValidations }, log));
results.durationSeconds = Math.round((Date.now() - started.getTime()) / 1000);

// --merge: a partial run replaces only the sections it measured; the others, and when they were
// measured, come from the previous latest.json, so checks that read every section keep working.
results.sectionRuns = Object.fromEntries(SECTIONS.filter((name) => only.has(name) && results[name] !== undefined).map((name) => [name, results.startedAt]));
if (values.merge) {
  const previous = JSON.parse(await readFile(join(ROOT, 'bench/results/latest.json'), 'utf8')) as BenchResults;
  // A section that failed in this run keeps its previous numbers too (the failure is still
  // reported): a partial run must never leave latest.json without a section that checks read.
  const kept = SECTIONS.filter((name) => (!only.has(name) || results[name] === undefined) && previous[name] !== undefined);
  Object.assign(results, Object.fromEntries(kept.map((name) => [name, previous[name]])));
  results.merged = { from: previous.merged?.from ?? previous.startedAt, sections: kept };
  // When each kept section was measured, so that a ratio across two runs is never taken for one run.
  const measuredAt = (name: Section) => previous.sectionRuns?.[name] ?? previous.merged?.from ?? previous.startedAt;
  results.sectionRuns = { ...Object.fromEntries(kept.map((name) => [name, measuredAt(name)])), ...results.sectionRuns };
}

const text = tables(results);
process.stdout.write(`\n${text}\n`);
if (failures.length) process.stdout.write(`Failed sections:\n${failures.join('\n')}\n`);

if (!values['no-write']) {
  const dir = join(ROOT, 'bench/results');
  await mkdir(dir, { recursive: true });
  const json = JSON.stringify({ ...results, failures }, null, 2) + '\n';
  await writeFile(join(dir, `${started.toISOString().replace(/[:.]/g, '-')}.json`), json);
  await writeFile(join(dir, 'latest.json'), json);
  await writeDocs(results, failures, quick);
  log(`wrote bench/results/latest.json, docs/performance.md, docs/performance-latency.svg`);
}
process.exit(failures.length ? 1 : 0);

/** docs/performance.md and its chart, from one run's results and bench/analysis.md. */
async function writeDocs(results: BenchResults, failures: string[], quick: boolean): Promise<void> {
  const text = tables(results);
  await writeFile(join(ROOT, 'docs/performance-latency.svg'), chart(results));
  const analysis = await readFile(join(ROOT, 'bench/analysis.md'), 'utf8').catch(() => '');
  const m = results.machine;
  const doc = [
    '# Performance',
    '',
    '<!-- Generated by `npm run bench` from bench/results/latest.json; edit bench/analysis.md or bench/src/report.ts instead. -->',
    '',
    `Run ${results.startedAt} on ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB memory, Node ${m.node} (${m.platform}), ${results.durationSeconds} s.` +
      (quick ? ' **Quick run (small sizes): not the full-size numbers.**' : '') +
      (results.merged ? ` Sections ${results.merged.sections.join(', ')} are from the run of ${results.merged.from}.` : ''),
    '',
    '![create→result latency percentiles and throughput against the gRPC floor and the peers](performance-latency.svg)',
    '',
    text,
    failures.length ? `Sections that failed in this run: ${failures.map((f) => f.split(':')[0]).join(', ')}.\n` : '',
    analysis,
  ].join('\n');
  await writeFile(join(ROOT, 'docs/performance.md'), doc);
}
