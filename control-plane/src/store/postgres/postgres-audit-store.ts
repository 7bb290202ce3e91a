import type pg from 'pg';
import { actorKeys, type AuditEntry, type AuditQuery, type AuditStore } from '../audit-records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { AUDIT } from './queries.js';
import { TurnBatch } from './turn-batch.js';

const { auditFromRow } = rowMappers({ date: (v) => v as Date, json: <T>(v: unknown) => v as T });

/** An entry's values in the column order of AUDIT.append. */
const values = (e: AuditEntry): unknown[] => [
  e.id,
  e.tenantId,
  e.at,
  JSON.stringify(e.actor),
  ` ${actorKeys(e.actor).join(' ')} `,
  e.role,
  e.clientAddress,
  e.userAgent,
  e.action,
  e.target.type,
  e.target.id,
  e.target.name,
  e.outcome,
  JSON.stringify(e.diff),
  JSON.stringify(e.details),
];

/**
 * AuditStore over the PostgresStore's pool. Appends of one event-loop turn (a busy API writes one
 * per created task) share one INSERT (turn-batch.ts); each settles after it has committed.
 */
export class PostgresAuditStore implements AuditStore {
  private readonly appends: TurnBatch<AuditEntry, void>;

  constructor(private readonly pool: pg.Pool) {
    this.appends = new TurnBatch<AuditEntry, void>(
      async (entries) => {
        const rows = entries.map(values);
        await this.pool.query(AUDIT.appendMany, rows[0]!.map((_, c) => rows.map((r) => r[c])));
        return entries.map(() => undefined);
      },
      { key: (e) => e.id, single: (e) => this.pool.query(AUDIT.append, values(e)) },
    );
  }

  async append(e: AuditEntry): Promise<void> {
    await this.appends.add(e);
  }

  async list(q: AuditQuery): Promise<AuditEntry[]> {
    const { rows } = await this.pool.query<Row>(
      AUDIT.list,
      [q.tenantId, q.beforeId ?? null, q.action ?? null, q.actor ?? null, q.target ?? null, q.since ?? null, q.until ?? null, q.limit],
    );
    return rows.map(auditFromRow);
  }

  async deleteOlderThan(before: Date, limit: number): Promise<number> {
    // SKIP LOCKED: replicas running retention together take different rows instead of waiting.
    const result = await this.pool.query(
      AUDIT.deleteOlderThan,
      [before, limit],
    );
    return result.rowCount ?? 0;
  }
}
