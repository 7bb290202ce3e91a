import type pg from 'pg';
import { actorKeys, type AuditEntry, type AuditQuery, type AuditStore } from '../audit-records.js';
import { rowMappers, type Row } from '../row-mappers.js';

const { auditFromRow } = rowMappers({ date: (v) => v as Date, json: <T>(v: unknown) => v as T });

/** AuditStore over the PostgresStore's pool. */
export class PostgresAuditStore implements AuditStore {
  constructor(private readonly pool: pg.Pool) {}

  async append(e: AuditEntry): Promise<void> {
    await this.pool.query(
      `INSERT INTO audit_entries (id, tenant_id, at, actor, actor_keys, role, client_address, user_agent, action,
         target_type, target_id, target_name, outcome, diff, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
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
      `SELECT * FROM audit_entries WHERE tenant_id = $1
         AND ($2::text IS NULL OR id < $2)
         AND ($3::text IS NULL OR action = $3)
         AND ($4::text IS NULL OR strpos(actor_keys, ' ' || $4 || ' ') > 0)
         AND ($5::text IS NULL OR target_id = $5 OR target_name = $5)
         AND ($6::timestamptz IS NULL OR at >= $6)
         AND ($7::timestamptz IS NULL OR at < $7)
       ORDER BY id DESC LIMIT $8`,
      [q.tenantId, q.beforeId ?? null, q.action ?? null, q.actor ?? null, q.target ?? null, q.since ?? null, q.until ?? null, q.limit],
    );
    return rows.map(auditFromRow);
  }

  async deleteOlderThan(before: Date, limit: number): Promise<number> {
    // SKIP LOCKED: replicas running retention together take different rows instead of waiting.
    const result = await this.pool.query(
      `DELETE FROM audit_entries WHERE id IN (SELECT id FROM audit_entries WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [before, limit],
    );
    return result.rowCount ?? 0;
  }
}
