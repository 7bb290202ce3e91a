import { randomBytes } from 'node:crypto';
import type { TenantEvent } from './event-types.js';

export interface BufferedEvent {
  /** The SSE `id:`, opaque to clients: `<epoch>-<seq>`. */
  readonly id: string;
  readonly seq: number;
  readonly at: number;
  readonly event: TenantEvent;
}

export interface BufferLimits {
  /** Events kept per tenant; 0 keeps none (every resume is a reset). */
  size: number;
  /** Events older than this are dropped. */
  maxAgeMs: number;
}

/** Why a Last-Event-ID cannot be resumed from; sent in the `reset` event. */
export type ResetReason = 'unknown-cursor' | 'expired';

export type Resume = { ok: true; events: BufferedEvent[] } | { ok: false; reason: ResetReason };

/**
 * The recent events of each tenant on this replica, for resuming a stream. Cursors carry this
 * buffer's epoch (random, per process) and a per-tenant sequence: a cursor from another replica or
 * from before a restart has another epoch and is answered with a reset rather than a wrong replay,
 * and a tenant's cursor says nothing about other tenants' traffic. Memory is bounded by count and
 * age per tenant; only the last sequence number of a tenant is kept once its events have aged out.
 */
export class EventBuffer {
  readonly epoch = randomBytes(6).toString('base64url');
  private readonly tenants = new Map<string, { seq: number; droppedThrough: number; events: BufferedEvent[]; head: number }>();

  constructor(
    private readonly limits: BufferLimits,
    private readonly now: () => number = Date.now,
  ) {}

  append(tenantId: string, event: TenantEvent): BufferedEvent {
    let t = this.tenants.get(tenantId);
    if (!t) this.tenants.set(tenantId, (t = { seq: 0, droppedThrough: 0, events: [], head: 0 }));
    t.seq += 1;
    const entry: BufferedEvent = { id: `${this.epoch}-${t.seq.toString(36)}`, seq: t.seq, at: this.now(), event };
    if (this.limits.size > 0) t.events.push(entry);
    else t.droppedThrough = t.seq;
    this.trim(t);
    return entry;
  }

  /** The events after `cursor`, or why they cannot be given. */
  since(tenantId: string, cursor: string): Resume {
    const seq = this.seqOf(cursor);
    const t = this.tenants.get(tenantId);
    if (seq === null || !t || seq > t.seq) return { ok: false, reason: 'unknown-cursor' };
    this.trim(t);
    if (seq < t.droppedThrough) return { ok: false, reason: 'expired' };
    const live = t.events.slice(t.head);
    return { ok: true, events: live.filter((e) => e.seq > seq) };
  }

  private seqOf(cursor: string): number | null {
    const dash = cursor.lastIndexOf('-');
    if (dash < 0 || cursor.slice(0, dash) !== this.epoch) return null;
    const digits = cursor.slice(dash + 1);
    if (!/^[0-9a-z]{1,11}$/.test(digits)) return null;
    return parseInt(digits, 36);
  }

  private trim(t: { droppedThrough: number; events: BufferedEvent[]; head: number }): void {
    const oldest = this.now() - this.limits.maxAgeMs;
    while (t.head < t.events.length && (t.events.length - t.head > this.limits.size || t.events[t.head]!.at < oldest)) {
      t.droppedThrough = t.events[t.head]!.seq;
      t.head += 1;
    }
    // Compact now and then instead of shifting on every append.
    if (t.head > 1024 && t.head * 2 > t.events.length) {
      t.events = t.events.slice(t.head);
      t.head = 0;
    }
  }
}
