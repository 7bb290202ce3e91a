import type Database from 'better-sqlite3';
import { inQueueOrder } from '../rules.js';
import type { Claim, TaskRecord } from '../store.js';
import type { GroupCommit, Writer } from './group-commit.js';

type Row = Record<string, unknown>;

/** What a claim batch needs of the store: one read, one fenced write, and the row mapping. */
export interface ClaimStatements {
  /** READS.nextEligibleMany: the best queued tasks the claimant is eligible for, up to @limit. */
  next: () => Database.Statement;
  /** WRITES.claimTasks, run through the store's writer so it joins the group commit. */
  writer: Writer<{ claimTasks: Database.Statement }>;
  toTask: (row: Row) => TaskRecord;
  json: (value: unknown) => string;
}

interface Request {
  claim: Claim;
  limit: number;
  resolve: (tasks: TaskRecord[]) => void;
  reject: (err: unknown) => void;
}

/**
 * The claims of one event-loop turn, done together. Every freed slot asks for work: under load a
 * turn's results free the slots of many delegates, and each claim used to be its own read of the
 * queue and its own fenced UPDATE. Here the claims of a turn wait for the group commit's last step
 * (GroupCommit.beforeCommit), then the claims of delegates with the same eligibility (tenant, tags,
 * task types) share one read for all their slots and one UPDATE that assigns each task to its
 * delegate, fenced exactly like the single claim (still queued, still eligible). Groups run one
 * after another in the same transaction, so a later group's read sees an earlier group's claims:
 * no task is handed out twice. Each claim settles after the COMMIT, as every write does.
 *
 * A claim that gets fewer tasks than it asked for got everything its eligibility finds queued:
 * the read asks for the sum of the group's slots and hands them out in the order the claims came.
 */
export class ClaimBatch {
  private pending: Request[] = [];

  constructor(
    private readonly commit: GroupCommit,
    private readonly statements: ClaimStatements,
  ) {}

  claim(claim: Claim, limit: number): Promise<TaskRecord[]> {
    return new Promise<TaskRecord[]>((resolve, reject) => {
      if (this.pending.length === 0) {
        try {
          this.commit.beforeCommit(() => this.flush());
        } catch (err) {
          reject(err);
          return;
        }
      }
      this.pending.push({ claim, limit: Math.max(1, Math.trunc(limit)), resolve, reject });
    });
  }

  private flush(): void {
    const requests = this.pending;
    this.pending = [];
    const groups = new Map<string, Request[]>();
    for (const r of requests) {
      const d = r.claim.delegate;
      const key = JSON.stringify([d.tenantId, d.tags, d.taskTypes]);
      const group = groups.get(key);
      if (group) group.push(r);
      else groups.set(key, [r]);
    }
    for (const group of groups.values()) {
      try {
        this.claimGroup(group);
      } catch (err) {
        for (const r of group) r.reject(err);
      }
    }
  }

  private claimGroup(group: Request[]): void {
    const { next, writer, toTask, json } = this.statements;
    const d = group[0]!.claim.delegate;
    const eligibility = { tenantId: d.tenantId, tags: json(d.tags), taskTypes: json(d.taskTypes) };
    const total = group.reduce((n, r) => n + r.limit, 0);
    const ids = (next().all({ ...eligibility, limit: total }) as Array<{ id: string }>).map((r) => r.id);
    if (ids.length === 0) {
      for (const r of group) r.resolve([]);
      return;
    }
    // Hand the tasks out in queue order, each claim up to its limit, in the order the claims came.
    const owner = new Map<string, Request>();
    const claims: Array<[string, string, number, number]> = [];
    let at = 0;
    for (const r of group) {
      for (const id of ids.slice(at, at + r.limit)) {
        owner.set(id, r);
        claims.push([id, r.claim.delegate.id, r.claim.now.getTime(), r.claim.leaseExpiresAt.getTime()]);
      }
      at += r.limit;
      if (at >= ids.length) break;
    }
    const claimed = writer.run((w) => w.claimTasks.all({ ...eligibility, claims: json(claims) }) as Row[]);
    claimed.then(
      (rows) => {
        const byRequest = new Map<Request, TaskRecord[]>(group.map((r) => [r, []]));
        for (const row of rows) {
          const r = owner.get(String(row['id']));
          if (r) byRequest.get(r)!.push(toTask(row));
        }
        // RETURNING gives no order: each claim's tasks go back in queue order.
        for (const [r, tasks] of byRequest) r.resolve(inQueueOrder(tasks));
      },
      (err: unknown) => {
        for (const r of group) r.reject(err);
      },
    );
  }
}
