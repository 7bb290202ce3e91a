import { cpus, totalmem } from 'node:os';
import type { ConnectionsRow } from './connections.js';
import type { DispatchRow } from './dispatch.js';
import type { FloorResult } from './floor.js';
import type { IdleCostRow } from './idle-cost.js';
import type { MaskingRow } from './masking.js';
import type { PeerRow } from './peers/index.js';
import { fmt } from './stats.js';
import type { ValidationRow } from './validation.js';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  node: string;
  platform: string;
}

export interface BenchResults {
  startedAt: string;
  durationSeconds: number;
  machine: Machine;
  options: Record<string, unknown>;
  dispatch?: DispatchRow[];
  floor?: FloorResult;
  peers?: PeerRow[];
  connections?: ConnectionsRow[];
  /** What an idle connection costs a bare server, per transport and HTTP/2 option (no control plane). */
  transports?: IdleCostRow[];
  validation?: ValidationRow;
  masking?: MaskingRow[];
  /** Set by `--merge`: the sections kept from an earlier run, and when that run started. */
  merged?: { from: string; sections: string[] };
  /** When each section was measured (start of its run); sections of one run share the time. */
  sectionRuns?: Record<string, string>;
}

export function machine(): Machine {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

export interface TargetRow {
  target: string;
  measured: string;
  pass: boolean | undefined;
}

/** The issue's targets, checked against what this run measured; undefined when not measured. */
export function targets(r: BenchResults): TargetRow[] {
  // The SQLite targets read the SQLite rows only (rows from before the store was named are SQLite).
  const perTask = r.dispatch?.filter((d) => d.mode !== 'batch' && (d.store ?? 'sqlite') === 'sqlite');
  const d100 = perTask?.find((d) => d.delegates === 100) ?? perTask?.at(-1);
  const batch = r.dispatch?.find((d) => d.mode === 'batch' && (d.store ?? 'sqlite') === 'sqlite');
  const conn = r.connections?.find((c) => c.carrier === 'grpc') ?? r.connections?.[0];
  const floorP50 = r.floor?.latency.p50;
  const rows: TargetRow[] = [];
  const add = (target: string, value: number | undefined, unit: string, ok: (v: number) => boolean | undefined, note = '') =>
    rows.push({ target, measured: value === undefined ? 'not run' : `${fmt(value, unit)}${note}`, pass: value === undefined || !Number.isFinite(value) ? undefined : ok(value) });
  const dNote = d100 && d100.delegates !== 100 ? ` (${d100.delegates} delegates)` : '';
  add('≥ 20,000 echo tasks/s with 100 delegates', d100?.throughput.jobsPerSecond, ' tasks/s', (v) => v >= 20_000, dNote);
  add('create→result p50 < 1 ms at moderate load', d100?.latency.result.p50, ' ms', (v) => v < 1, dNote);
  add('create→result p99 < 5 ms at moderate load', d100?.latency.result.p99, ' ms', (v) => v < 5, dNote);
  add('≤ 1.5× the gRPC floor (p50)', d100 && floorP50 ? d100.latency.result.p50 / floorP50 : undefined, '×', (v) => v <= 1.5, dNote);
  const cNote = conn && conn.delegates !== 10_000 ? ` (${conn.delegates} delegates)` : '';
  add('10,000 idle delegates at < 30 KB RSS each', conn?.rssPerConnectionKb, ' KB', (v) => v < 30, cNote);
  add('all reconnected within 30 s of a restart', conn?.reconnectSeconds, ' s', (v) => v <= 30 && (conn?.survived ?? false), cNote);
  add('validation within 1.2× of direct SDK calls (p50)', r.validation?.ratioP50, '×', (v) => v <= 1.2);
  // Issue 13's targets, as ratios to what ran beside us.
  const bestPeer = r.peers?.length ? Math.max(...r.peers.map((p) => p.throughput.jobsPerSecond)) : undefined;
  const runOf = (name: string) => r.sectionRuns?.[name] ?? (r.merged?.sections.includes(name) ? r.merged.from : r.startedAt);
  const peersNote = runOf('peers') !== runOf('dispatch') ? ' (dispatch and peers from different runs)' : '';
  // A ratio across two runs on a shared machine says nothing: shown, but neither pass nor miss.
  add("closed loop, 100 delegates, ≥ 2× the best peer's jobs/s", d100 && bestPeer ? d100.throughput.jobsPerSecond / bestPeer : undefined, '×', (v) => (peersNote ? undefined : v >= 2), `${dNote}${peersNote}`);
  add("create→result p50 ≤ 5× the gRPC floor's p50", d100 && floorP50 ? d100.latency.result.p50 / floorP50 : undefined, '×', (v) => v <= 5, dNote);
  add("create→result p99 ≤ 15× the gRPC floor's p50", d100 && floorP50 ? d100.latency.result.p99 / floorP50 : undefined, '×', (v) => v <= 15, dNote);
  add('batch API + event stream ≥ 20,000 tasks/s', batch?.throughput.jobsPerSecond, ' tasks/s', (v) => v >= 20_000, batch ? ` (${batch.delegates} delegates)` : '');
  add('gRPC idle delegates ≤ 30 KB control-plane RSS each', conn?.carrier === 'grpc' ? conn.rssPerConnectionKb : undefined, ' KB', (v) => v <= 30, cNote);
  // Issue 14's PostgreSQL targets: at the most delegates measured, one replica against the best
  // PostgreSQL peer (pg-boss, graphile-worker), and two replicas against one.
  const pgRows = r.dispatch?.filter((d) => d.store === 'postgres' && d.mode !== 'batch') ?? [];
  const pgDelegates = pgRows.length ? Math.max(...pgRows.map((d) => d.delegates)) : undefined;
  const pg1 = pgRows.find((d) => d.replicas === 1 && d.delegates === pgDelegates);
  const pg2 = pgRows.find((d) => d.replicas === 2 && d.delegates === pgDelegates);
  const pgPeers = r.peers?.filter((p) => p.peer === 'pg-boss' || p.peer === 'graphile-worker') ?? [];
  const bestPgPeer = pgPeers.length ? Math.max(...pgPeers.map((p) => p.throughput.jobsPerSecond)) : undefined;
  const pgNote = pgDelegates !== undefined ? ` (${pgDelegates} delegates${peersNote})` : '';
  add(
    'PostgreSQL, one replica ≥ the best PostgreSQL peer',
    pg1 && bestPgPeer ? pg1.throughput.jobsPerSecond / bestPgPeer : undefined,
    '×',
    (v) => (peersNote ? undefined : v >= 1),
    pgNote,
  );
  const pgBatch = r.dispatch?.find((d) => d.store === 'postgres' && d.mode === 'batch');
  add(
    'PostgreSQL, one replica, batch API + events ≥ the best PostgreSQL peer',
    pgBatch && bestPgPeer ? pgBatch.throughput.jobsPerSecond / bestPgPeer : undefined,
    '×',
    (v) => (peersNote ? undefined : v >= 1),
    pgBatch ? ` (${pgBatch.delegates} delegates${peersNote})` : '',
  );
  add('PostgreSQL, two replicas ≥ 1.6× one', pg1 && pg2 ? pg2.throughput.jobsPerSecond / pg1.throughput.jobsPerSecond : undefined, '×', (v) => v >= 1.6, pgDelegates !== undefined ? ` (${pgDelegates} delegates)` : '');
  // Issue 14: every carrier, at 10,000 delegates.
  for (const c of r.connections ?? []) {
    const note = c.delegates !== 10_000 ? ` (${c.delegates} delegates)` : '';
    add(`${c.carrier}: 10,000 delegates registered in ≤ 15 s`, c.registerSeconds, ' s', (v) => v <= 15, note);
    add(`${c.carrier}: all back ≤ 30 s after a control-plane SIGKILL + restart`, c.reconnectSeconds, ' s', (v) => v <= 30 && c.survived, note);
    add(`${c.carrier}: ≤ 30 KB control-plane RSS per idle delegate`, c.rssPerConnectionKb, ' KB', (v) => v <= 30, note);
  }
  add('masking cost per log line flat from 10 to 10,000 validations (≤ 2×)', maskingGrowth(r.masking), '×', (v) => v <= 2, maskingNote(r.masking));
  return rows;
}

/** How much more a log line costs after the most validations than after the fewest (the worse of the two lines). */
function maskingGrowth(rows: MaskingRow[] | undefined): number | undefined {
  if (!rows || rows.length < 2) return undefined;
  const first = rows[0]!.lineUs;
  const last = rows.at(-1)!.lineUs;
  return Math.max(last.clean / first.clean, last.withSecret / first.withSecret);
}

function maskingNote(rows: MaskingRow[] | undefined): string {
  if (!rows || rows.length < 2) return '';
  const from = rows[0]!.validations;
  const to = rows.at(-1)!.validations;
  return from === 10 && to === 10_000 ? '' : ` (${from} to ${to} validations)`;
}

/** Blank for the SQLite rows (the table's original rows), else the store and replica count. */
function storeLabel(d: DispatchRow): string {
  if ((d.store ?? 'sqlite') === 'sqlite') return '';
  return ` on PostgreSQL, ${d.replicas ?? 1} replica${(d.replicas ?? 1) === 1 ? '' : 's'}`;
}

const mark = (p: boolean | undefined) => (p === undefined ? '—' : p ? 'pass' : 'miss');

/** Markdown tables; the same text goes to the terminal and into docs/performance.md. */
export function tables(r: BenchResults): string {
  const out: string[] = [];
  out.push('| Target | Measured | |', '| --- | --- | --- |');
  for (const t of targets(r)) out.push(`| ${t.target} | ${t.measured} | ${mark(t.pass)} |`);
  out.push('');
  if (r.dispatch || r.floor || r.peers) {
    out.push(
      '| System | jobs/s (closed loop) | assigned p50 / p99 (ms) | result p50 / p90 / p99 (ms) | result p50 vs floor |',
      '| --- | --- | --- | --- | --- |',
    );
    const floorP50 = r.floor?.latency.p50;
    const ratio = (v: number) => (floorP50 ? `${fmt(v / floorP50)}×` : '—');
    if (r.floor) {
      const l = r.floor.latency;
      out.push(`| gRPC floor (bare bidi ping-pong, same frames) | ${fmt(r.floor.roundTripsPerSecond)} | — | ${fmt(l.p50)} / ${fmt(l.p90)} / ${fmt(l.p99)} | 1× |`);
    }
    for (const d of r.dispatch ?? []) {
      const l = d.latency;
      out.push(
        `| Attaché${d.mode === 'batch' ? ' batch + events' : ''}${storeLabel(d)}, ${d.delegates} delegate${d.delegates === 1 ? '' : 's'} | ${fmt(d.throughput.jobsPerSecond)} | ${fmt(l.assigned.p50)} / ${fmt(l.assigned.p99)} | ${fmt(l.result.p50)} / ${fmt(l.result.p90)} / ${fmt(l.result.p99)} | ${ratio(l.result.p50)} |`,
      );
    }
    for (const p of r.peers ?? []) {
      const l = p.latency;
      out.push(
        `| ${p.peer} (${p.notes}) | ${fmt(p.throughput.jobsPerSecond)} | ${fmt(l.assigned.p50)} / ${fmt(l.assigned.p99)} | ${fmt(l.result.p50)} / ${fmt(l.result.p90)} / ${fmt(l.result.p99)} | ${ratio(l.result.p50)} |`,
      );
    }
    const o = r.options;
    out.push('', `Closed loop: ${String(o['concurrency'])} clients, ${String(o['tasks'])} jobs; latency: open loop at ${String(o['latencyRate'])} jobs/s, ${String(o['latencyTasks'])} jobs.`, '');
  }
  if (r.connections?.length) {
    out.push(
      '| Carrier | Idle delegates | Registered in (target ≤ 15 s) | CP RSS before → after (MB) | RSS per connection | Idle CPU (s/s, heartbeat every 5 s) | Reconnect after SIGKILL + restart | CP alive after |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
    );
    for (const c of r.connections) {
      out.push(
        `| ${c.carrier} | ${c.delegates} | ${c.registerSeconds !== undefined ? `${fmt(c.registerSeconds)} s (${c.workers} client processes)` : '–'} | ${fmt(c.baselineRssMb)} → ${fmt(c.rssMb)} | ${fmt(c.rssPerConnectionKb)} KB${c.brokerRssPerConnectionKb !== undefined ? ` (+${fmt(c.brokerRssPerConnectionKb)} KB in nats-server)` : ''} | ${fmt(c.idleCpu)} | ${fmt(c.reconnectSeconds)} s (restart ${fmt(c.restartSeconds)} s) | ${c.survived ? 'yes' : 'no'} |`,
      );
    }
    out.push('');
  }
  if (r.transports?.length) {
    out.push('| Idle connection on a bare server (no control plane; options in latest.json) | Connections | RSS per connection | of it V8 heap |', '| --- | --- | --- | --- |');
    for (const t of r.transports) out.push(`| ${t.server}: ${t.variant} | ${t.connections} | ${fmt(t.rssPerConnectionKb)} KB | ${fmt(t.heapPerConnectionKb)} KB |`);
    out.push('');
  }
  if (r.validation) {
    const v = r.validation;
    out.push(
      '| Validation (moto_server, auth enforced) | p50 (ms) | p90 (ms) | p99 (ms) |',
      '| --- | --- | --- | --- |',
      `| GetCallerIdentity + DescribeRegions, direct | ${fmt(v.direct.p50)} | ${fmt(v.direct.p90)} | ${fmt(v.direct.p99)} |`,
      `| aws.validate through API and a delegate | ${fmt(v.viaDelegate.p50)} | ${fmt(v.viaDelegate.p90)} | ${fmt(v.viaDelegate.p99)} |`,
      `| ratio (p50) | ${fmt(v.ratioP50)}× | | |`,
      '',
    );
  }
  if (r.masking?.length) {
    out.push(
      '| Masking after N assumed-role validations | secrets held | µs per registration | µs per log line, no secret | µs per log line, with a secret | heap (MB) |',
      '| --- | --- | --- | --- | --- | --- |',
    );
    for (const m of r.masking) {
      out.push(`| ${m.validations.toLocaleString('en-US')} | ${m.secretsHeld} | ${fmt(m.registrationUs)} | ${fmt(m.lineUs.clean)} | ${fmt(m.lineUs.withSecret)} | ${fmt(m.heapMb)} |`);
    }
    out.push('');
  }
  return out.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Two panels: create→result percentiles (log scale, ms) and closed-loop throughput (log scale),
 * for the floor, Attaché at each delegate count and the peers. Hand-rolled SVG, so the bench
 * needs no plotting dependency and the chart always matches the JSON it came from.
 */
const PEER_COLORS: Record<string, string> = { bullmq: '#d9480f', 'bullmq-aof': '#f08c00', 'pg-boss': '#2f9e44', 'graphile-worker': '#7048e8' };

export function chart(r: BenchResults): string {
  type Series = { name: string; p50: number; p90: number; p99: number; tps: number; color: string };
  const series: Series[] = [];
  if (r.floor) series.push({ name: 'gRPC floor', ...pick(r.floor.latency), tps: r.floor.roundTripsPerSecond, color: '#888888' });
  for (const d of r.dispatch ?? []) series.push({ name: `Attaché${d.store === 'postgres' ? ` pg${d.replicas === 1 ? '' : `×${d.replicas}r`}` : ''} ×${d.delegates}`, ...pick(d.latency.result), tps: d.throughput.jobsPerSecond, color: '#1f6feb' });
  for (const p of r.peers ?? []) series.push({ name: p.peer, ...pick(p.latency.result), tps: p.throughput.jobsPerSecond, color: PEER_COLORS[p.peer] ?? '#2f9e44' });
  const W = 760;
  const rowH = 26;
  const top = 40;
  const left = 130;
  const panelW = 280;
  const gap = 60;
  const H = top + series.length * rowH + 50;
  const lat = series.flatMap((s) => [s.p50, s.p99]).filter((v) => v > 0 && Number.isFinite(v));
  const tps = series.map((s) => s.tps).filter((v) => v > 0 && Number.isFinite(v));
  const logScale = (values: number[], width: number) => {
    const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values, 1))));
    const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values, 10))));
    return { lo, hi, x: (v: number) => (width * (Math.log10(Math.max(v, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo)) };
  };
  const ls = logScale(lat.length ? lat : [1], panelW);
  const ts = logScale(tps.length ? tps : [1], panelW);
  const x2 = left + panelW + gap;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${left}" y="18" font-weight="bold">create→result latency (ms, log): p50 ● p90 ▮ p99 ◆</text>`,
    `<text x="${x2}" y="18" font-weight="bold">throughput (jobs/s, log)</text>`,
  ];
  for (const [scale, x0] of [[ls, left], [ts, x2]] as const) {
    for (let v = scale.lo; v <= scale.hi * 1.0001; v *= 10) {
      const x = x0 + scale.x(v);
      parts.push(`<line x1="${x}" y1="${top - 8}" x2="${x}" y2="${top + series.length * rowH}" stroke="#e5e5e5"/>`);
      parts.push(`<text x="${x}" y="${top + series.length * rowH + 16}" text-anchor="middle" fill="#555">${v >= 1 ? v.toLocaleString('en-US') : v}</text>`);
    }
  }
  series.forEach((s, i) => {
    const y = top + i * rowH + rowH / 2;
    parts.push(`<text x="${left - 8}" y="${y + 4}" text-anchor="end">${esc(s.name)}</text>`);
    if (Number.isFinite(s.p50)) {
      parts.push(`<line x1="${left + ls.x(s.p50)}" y1="${y}" x2="${left + ls.x(s.p99)}" y2="${y}" stroke="${s.color}" stroke-width="2"/>`);
      parts.push(`<circle cx="${left + ls.x(s.p50)}" cy="${y}" r="5" fill="${s.color}"/>`);
      parts.push(`<rect x="${left + ls.x(s.p90) - 2}" y="${y - 6}" width="4" height="12" fill="${s.color}"/>`);
      parts.push(`<path d="M ${left + ls.x(s.p99)} ${y - 6} l 6 6 l -6 6 l -6 -6 z" fill="${s.color}"/>`);
    }
    if (Number.isFinite(s.tps) && s.tps > 0) {
      parts.push(`<rect x="${x2}" y="${y - 8}" width="${Math.max(1, ts.x(s.tps))}" height="16" fill="${s.color}" opacity="0.8"/>`);
      parts.push(`<text x="${x2 + ts.x(s.tps) + 4}" y="${y + 4}" fill="#333">${fmt(s.tps)}</text>`);
    }
  });
  const m = r.machine;
  parts.push(`<text x="${left}" y="${H - 10}" fill="#555">${esc(`${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.node} — ${r.startedAt}`)}</text>`);
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function pick(l: { p50: number; p90: number; p99: number }) {
  return { p50: l.p50, p90: l.p90, p99: l.p99 };
}
