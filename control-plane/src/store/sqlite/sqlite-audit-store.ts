import type Database from 'better-sqlite3';
import { actorKeys, type AuditEntry, type AuditQuery, type AuditStore } from '../audit-records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { prepareEach, readStatements, type GroupCommit, type Writer } from './group-commit.js';
import { AUDIT_READS, AUDIT_WRITES } from './queries.js';

const { auditFromRow } = rowMappers({ date: (v) => new Date(v as number), json: <T>(v: unknown) => JSON.parse(v as string) as T });

/** AuditStore over the SqliteStore's connection; appends join its group commit. */
export class SqliteAuditStore implements AuditStore {
  private readonly reads: () => Record<keyof typeof AUDIT_READS, Database.Statement>;
  private readonly writer: Writer<Record<keyof typeof AUDIT_WRITES, Database.Statement>>;

  constructor(db: Database.Database, commit: GroupCommit) {
    this.writer = commit.writer(() => prepareEach(db, AUDIT_WRITES));
    this.reads = readStatements(() => prepareEach(db, AUDIT_READS));
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
