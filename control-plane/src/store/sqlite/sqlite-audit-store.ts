import type Database from 'better-sqlite3';
import { actorKeys, type AuditEntry, type AuditQuery, type AuditStore } from '../audit-records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { readStatements, type GroupCommit, type Writer } from './group-commit.js';

const { auditFromRow } = rowMappers({ date: (v) => new Date(v as number), json: <T>(v: unknown) => JSON.parse(v as string) as T });

/** AuditStore over the SqliteStore's connection; appends join its group commit. */
export class SqliteAuditStore implements AuditStore {
  private readonly reads: () => { list: Database.Statement };
  private readonly writer: Writer<{ insert: Database.Statement; prune: Database.Statement }>;

  constructor(db: Database.Database, commit: GroupCommit) {
    this.writer = commit.writer(() => ({
      insert: db.prepare(`INSERT INTO audit_entries (id, tenant_id, at, actor, actor_keys, role, client_address, user_agent, action,
          target_type, target_id, target_name, outcome, diff, details)
        VALUES (@id, @tenantId, @at, @actor, @actorKeys, @role, @clientAddress, @userAgent, @action, @targetType, @targetId,
          @targetName, @outcome, @diff, @details)`),
      prune: db.prepare(`DELETE FROM audit_entries WHERE id IN (SELECT id FROM audit_entries WHERE at < ? LIMIT ?)`),
    }));
    this.reads = readStatements(() => ({
      list: db.prepare(`SELECT * FROM audit_entries WHERE tenant_id = @tenantId
          AND (@beforeId IS NULL OR id < @beforeId)
          AND (@action IS NULL OR action = @action)
          AND (@actor IS NULL OR instr(actor_keys, ' ' || @actor || ' ') > 0)
          AND (@target IS NULL OR target_id = @target OR target_name = @target)
          AND (@since IS NULL OR at >= @since)
          AND (@until IS NULL OR at < @until)
        ORDER BY id DESC LIMIT @limit`),
    }));
  }

  append(e: AuditEntry): Promise<void> {
    return this.writer.run((w) => {
      w.insert.run({
        id: e.id,
        tenantId: e.tenantId,
        at: e.at.getTime(),
        actor: JSON.stringify(e.actor),
        actorKeys: ` ${actorKeys(e.actor).join(' ')} `,
        role: e.role,
        clientAddress: e.clientAddress,
        userAgent: e.userAgent,
        action: e.action,
        targetType: e.target.type,
        targetId: e.target.id,
        targetName: e.target.name,
        outcome: e.outcome,
        diff: JSON.stringify(e.diff),
        details: JSON.stringify(e.details),
      });
    });
  }

  async list(query: AuditQuery): Promise<AuditEntry[]> {
    const rows = this.reads().list.all({
      tenantId: query.tenantId,
      beforeId: query.beforeId ?? null,
      action: query.action ?? null,
      actor: query.actor ?? null,
      target: query.target ?? null,
      since: query.since?.getTime() ?? null,
      until: query.until?.getTime() ?? null,
      limit: query.limit,
    }) as Row[];
    return rows.map(auditFromRow);
  }

  deleteOlderThan(before: Date, limit: number): Promise<number> {
    return this.writer.run((w) => w.prune.run(before.getTime(), limit).changes);
  }
}
