import type pg from 'pg';
import { actorKeys, type AuditEntry, type AuditQuery, type AuditStore } from '../audit-records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { AUDIT } from './queries.js';

const { auditFromRow } = rowMappers({ date: (v) => v as Date, json: <T>(v: unknown) => v as T });

/** AuditStore over the PostgresStore's pool. */
export class PostgresAuditStore implements AuditStore {
  constructor(private readonly pool: pg.Pool) {}

  async append(e: AuditEntry): Promise<void> {
    await this.pool.query(
      AUDIT.append,
      [
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
      ],
    );
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
