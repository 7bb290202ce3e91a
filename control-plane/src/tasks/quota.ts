import { AppError, ErrorCode } from '../errors.js';
import { payloadBytes, type Store } from '../store/store.js';

export interface QuotaLimits {
  maxQueuedTasksPerTenant: number;
  maxQueuedPayloadBytesPerTenant: number;
}

/**
 * Per-tenant quotas on work that has not ended: how many tasks, and how many payload bytes. Checked
 * before every task is created, whoever creates it (the tasks API, account validations, policy
 * listings), from one indexed read of the store, so every replica sees the same numbers.
 *
 * A soft limit: requests of one tenant racing on several replicas may each pass the check before
 * the others' tasks are stored, so a tenant can end up a few tasks (at most its concurrent creates)
 * past the limit, never further.
 */
export class TaskQuota {
  constructor(
    private readonly store: Store,
    private readonly limits: QuotaLimits,
  ) {}

  async check(tenantId: string, payload: Record<string, unknown>): Promise<void> {
    this.admit(await this.store.openTaskUsage(tenantId), payload);
  }

  /**
   * A batch's payloads against one read of the usage, counting the earlier items of the batch as
   * if they were stored: each item gets null (fits) or the QUOTA_EXCEEDED error it would get alone.
   */
  async checkMany(tenantId: string, payloads: ReadonlyArray<Record<string, unknown> | null>): Promise<Array<AppError | null>> {
    const usage = { ...(await this.store.openTaskUsage(tenantId)) };
    return payloads.map((payload) => {
      if (payload === null) return null;
      try {
        this.admit(usage, payload);
      } catch (err) {
        if (err instanceof AppError) return err;
        throw err;
      }
      usage.tasks += 1;
      usage.payloadBytes += payloadBytes(payload);
      return null;
    });
  }

  private admit(usage: { tasks: number; payloadBytes: number }, payload: Record<string, unknown>): void {
    const maxTasks = this.limits.maxQueuedTasksPerTenant;
    if (usage.tasks >= maxTasks) {
      throw new AppError(
        ErrorCode.QUOTA_EXCEEDED,
        `This tenant already has ${usage.tasks} tasks that have not ended, the most it may have (ATTACHE_MAX_QUEUED_TASKS_PER_TENANT=${maxTasks}). Wait for tasks to finish or cancel some, then retry; the operator can raise the limit.`,
        { limit: 'ATTACHE_MAX_QUEUED_TASKS_PER_TENANT', max: maxTasks, current: usage.tasks },
      );
    }
    const maxBytes = this.limits.maxQueuedPayloadBytesPerTenant;
    const bytes = payloadBytes(payload);
    if (usage.payloadBytes + bytes > maxBytes) {
      throw new AppError(
        ErrorCode.QUOTA_EXCEEDED,
        `This task's payload (${bytes} bytes) would take this tenant's tasks that have not ended past ${maxBytes} bytes of payload (ATTACHE_MAX_QUEUED_PAYLOAD_BYTES_PER_TENANT; ${usage.payloadBytes} bytes now). Wait for tasks to finish or cancel some, then retry; the operator can raise the limit.`,
        { limit: 'ATTACHE_MAX_QUEUED_PAYLOAD_BYTES_PER_TENANT', max: maxBytes, current: usage.payloadBytes, payloadBytes: bytes },
      );
    }
  }
}
