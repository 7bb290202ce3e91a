import { BatchedRetention, type RetentionOptions } from '../store/batched-retention.js';
import type { AuditStore } from '../store/audit-records.js';

/** Deletes audit entries older than ATTACHE_AUDIT_RETENTION_DAYS, in bounded batches: the trail's only delete. */
export class AuditRetention extends BatchedRetention {
  constructor(audit: AuditStore, options: RetentionOptions) {
    super('audit entries', (cutoff, limit) => audit.deleteOlderThan(cutoff, limit), options);
  }
}
