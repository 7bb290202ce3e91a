import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';

/**
 * Rows per DELETE. Small enough that one statement holds the write lock (SQLite) or its row locks
 * (PostgreSQL) for a few milliseconds, so claims and results keep flowing while a backlog drains.
 */
export const RETENTION_BATCH = 500;
/** Pause between batches: lets the dispatcher's writes in between, and spreads the I/O. */
export const RETENTION_PAUSE_MS = 50;

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  retentionDays: number;
  intervalMs: number;
  log: Logger;
  /** The clock; injected by tests that age rows instead of waiting days. */
  now?: () => Date;
  batchSize?: number;
  pauseMs?: number;
}

/**
 * Deletes rows older than `retentionDays`, in bounded batches, at start and every `intervalMs`:
 * the database keeps the recent history and stops growing under a steady load. Replicas may all
 * run it (the PostgreSQL batches skip each other's rows). What is deleted is the caller's:
 * `deleteBatch(cutoff, limit)` deletes up to `limit` rows older than `cutoff` and says how many.
 */
export class BatchedRetention {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private stopped = false;
  private readonly now: () => Date;
  private readonly batchSize: number;
  private readonly pauseMs: number;

  constructor(
    private readonly what: string,
    private readonly deleteBatch: (cutoff: Date, limit: number) => Promise<number>,
    private readonly options: RetentionOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.batchSize = options.batchSize ?? RETENTION_BATCH;
    this.pauseMs = options.pauseMs ?? RETENTION_PAUSE_MS;
  }

  start(): void {
    this.stopped = false;
    const tick = () => void this.run().catch((err: unknown) => this.options.log.error({ err }, `${this.what} retention failed`));
    setImmediate(tick);
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One pass: batches until one comes back short. Returns how many rows were deleted. */
  run(): Promise<number> {
    this.running ??= this.pass().finally(() => (this.running = null));
    return this.running;
  }

  private async pass(): Promise<number> {
    const cutoff = new Date(this.now().getTime() - this.options.retentionDays * DAY_MS);
    let total = 0;
    for (;;) {
      const deleted = await this.deleteBatch(cutoff, this.batchSize);
      total += deleted;
      if (deleted < this.batchSize || this.stopped) break;
      await sleep(this.pauseMs);
    }
    if (total > 0) this.options.log.info({ deleted: total, before: cutoff.toISOString() }, `deleted ${this.what} past retention`);
    return total;
  }
}
