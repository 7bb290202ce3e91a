import type { LoadResult } from '../load.js';

/**
 * One peer's numbers under the same load as Attaché's (bench/results/latest.json `peers`).
 * `peer` names are read by checks outside the repository: add names, never rename one.
 */
export interface PeerRow extends LoadResult {
  peer: 'bullmq' | 'bullmq-aof' | 'pg-boss' | 'graphile-worker';
  notes: string;
}

/** A submitted job waiting for its worker to pick it up and for its completion to be recorded. */
export type Waiter = { t0: number; assigned?: number; resolve: (r: { assigned: number; result: number }) => void };
