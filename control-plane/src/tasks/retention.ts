import { BatchedRetention, type RetentionOptions } from '../store/batched-retention.js';
import type { Store } from '../store/store.js';

export { RETENTION_BATCH, RETENTION_PAUSE_MS } from '../store/batched-retention.js';
export type TaskRetentionOptions = RetentionOptions;

/** Deletes tasks that ended more than `retentionDays` ago, in bounded batches (see BatchedRetention). */
export class TaskRetention extends BatchedRetention {
  constructor(store: Store, options: TaskRetentionOptions) {
    super('ended tasks', (cutoff, limit) => store.deleteEndedTasks(cutoff, limit), options);
  }
}
