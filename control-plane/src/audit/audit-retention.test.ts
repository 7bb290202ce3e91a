import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { newId } from '../ids.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { AuditEntry, AuditStore } from '../store/store.js';
import { AuditRetention } from './audit-retention.js';

const log = pino({ level: 'silent' });
const DAY = 86_400_000;

function entry(at: Date): AuditEntry {
  return {
    id: newId('aud'),
    tenantId: 't',
    at,
    actor: { type: 'operator' },
    role: 'operator',
    clientAddress: '127.0.0.1',
    userAgent: null,
    action: 'tenant.suspend',
    target: { type: 'tenant', id: 't', name: null },
    outcome: 'success',
    diff: {},
    details: {},
  };
}

describe('AuditRetention', () => {
  it('deletes entries older than the retention in bounded batches, and nothing younger', async () => {
    const store = SqliteStore.open({ path: ':memory:' });
    await store.migrate();
    const now = Date.UTC(2026, 5, 1);
    const batches: number[] = [];
    // The real store, with each batch's size noted.
    const counting: AuditStore = {
      append: (e) => store.audit.append(e),
      list: (q) => store.audit.list(q),
      deleteOlderThan: async (before, limit) => {
        const n = await store.audit.deleteOlderThan(before, limit);
        batches.push(n);
        return n;
      },
    };
    try {
      for (let day = 0; day < 30; day++) for (let i = 0; i < 5; i++) await store.audit.append(entry(new Date(now - day * DAY - i * 1000)));
      const retention = new AuditRetention(counting, { retentionDays: 10, intervalMs: 60_000, log, now: () => new Date(now), batchSize: 20, pauseMs: 0 });
      const left = await store.audit.list({ tenantId: 't', limit: 1000 });
      const expired = left.filter((e) => e.at.getTime() < now - 10 * DAY).length;
      expect(await retention.run()).toBe(expired);
      expect(Math.max(...batches)).toBeLessThanOrEqual(20);
      expect(batches.length).toBe(Math.floor(expired / 20) + 1);
      const kept = await store.audit.list({ tenantId: 't', limit: 1000 });
      expect(kept.length).toBe(150 - expired);
      expect(kept.every((e) => e.at.getTime() >= now - 10 * DAY)).toBe(true);
    } finally {
      await store.close();
    }
  });
});
