import type { LoadOptions } from '../load.js';
import { runBullmq } from './bullmq.js';
import { runGraphileWorker } from './graphile-worker.js';
import type { PeerRow } from './peer-row.js';
import { runPgBoss } from './pg-boss.js';

export type { PeerRow } from './peer-row.js';

/** Every peer, one after the other, under the same load and with the same worker slots. */
const PEERS: Array<(opts: LoadOptions, slots: number) => Promise<PeerRow>> = [
  (o, s) => runBullmq(o, s, 'none'),
  (o, s) => runBullmq(o, s, 'aof-everysec'),
  runPgBoss,
  runGraphileWorker,
];

/** The peers section: every peer in turn, so their rows in latest.json always come from one run. */
export async function runPeers(opts: LoadOptions, slots: number, log: (s: string) => void): Promise<PeerRow[]> {
  const rows: PeerRow[] = [];
  for (const peer of PEERS) {
    const row = await peer(opts, slots);
    log(`  ${row.peer}: ${row.throughput.jobsPerSecond.toFixed(0)} jobs/s; result p50 ${row.latency.result.p50.toFixed(2)} ms`);
    rows.push(row);
  }
  return rows;
}
