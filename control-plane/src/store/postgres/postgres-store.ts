import pg from 'pg';
import type {
  AccountPatch,
  FirstApiKey,
  NewTenant,
  UserRecord,
  AwsAccountRecord,
  Claim,
  ClaimTask,
  CompleteTask,
  FinishTask,
  MarkRunning,
  RequeueTask,
  DelegateIdentityRecord,
  DelegateRecord,
  DelegateStatus,
  DelegateToken,
  GlobalTaskStats,
  GroupKeyRecord,
  ListPage,
  ListTasksQuery,
  OpenTaskUsage,
  QueueGroupStats,
  Store,
  TaskRecord,
  TaskState,
  Tenant,
  ValidationOutcome,
} from '../store.js';
import { payloadBytes } from '../store.js';
import { conflicting } from './conflicts.js';
import { BATCH, IDENTITY, Q, insertTasks } from './queries.js';
import { TurnBatch } from './turn-batch.js';
import { DelegateNameCache } from '../delegate-name-cache.js';
import { distinctIds, inQueueOrder, normalizeSelectors, outcomeColumns, trustsAnnouncedKeys } from '../rules.js';
import { migrate } from './schema.js';
import { PostgresIdentityStore, userParams } from './postgres-identity-store.js';
import { PostgresOidcStore } from './postgres-oidc-store.js';
import { PostgresAuditStore } from './postgres-audit-store.js';
import { INITIAL_KEY_NAME } from '../identity-records.js';
import { rowMappers, type Row } from '../row-mappers.js';

/** A list's page as [after key, after id, limit]; LIMIT NULL is PostgreSQL's "no limit". */
const pageParams = <K extends string | Date>(page: ListPage<K> | undefined): [K | null, string | null, number | null] => [
  page?.after?.key ?? null,
  page?.after?.id ?? null,
  page ? Math.max(0, Math.trunc(page.limit)) : null,
];

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (libpq URL; `?sslmode=...` and friends apply). */
  url: string;
  /**
   * Connections this replica may hold; default 10. Every replica brings its own pool, so the sum
   * over replicas must stay under the server's max_connections.
   */
  poolSize?: number;
  /**
   * How long to wait for a new connection before failing; default 5000 ms. Bounded so that calls
   * fail (and readiness turns false) while the database is down, instead of queueing forever.
   */
  connectTimeoutMs?: number;
  /** The readiness probe's whole budget, connecting included; default 2000 ms. */
  pingTimeoutMs?: number;
}

type Db = pg.Pool | pg.PoolClient;

/** node-postgres hands timestamptz back as Date already; nulls stay null. */
const date = (v: unknown): Date => v as Date;
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : (v as Date));
/**
 * jsonb parameters are serialised here: node-postgres would turn a JS array into a PostgreSQL
 * array literal rather than JSON.
 */
const json = (v: unknown): string => JSON.stringify(v);
const jsonOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));

const { tenantFromRow, tokenFromRow, delegateFromRow, taskFromRow, accountFromRow, identityFromRow, groupKeyFromRow } = rowMappers({
  // node-postgres parses timestamptz, text[] and jsonb itself.
  date: (v) => v as Date,
  json: <T>(v: unknown) => v as T,
});

/**
 * The scale-out Store: PostgreSQL through a node-postgres pool. Every state change is one
 * statement fenced in its WHERE clause (expected state, attempt, delegate), so replicas sharing the
 * database need no coordination beyond it. The pool reconnects on demand: after the database
 * restarts, the next call opens fresh connections.
 */
export class PostgresStore implements Store {
  readonly kind = 'postgres';
  private closed = false;
  readonly identity: PostgresIdentityStore;
  readonly oidc: PostgresOidcStore;
  readonly audit: PostgresAuditStore;

  private readonly names = new DelegateNameCache((tenantId, ids) => this.batches.names.add({ tenantId, ids }));

  /**
   * The per-task transitions and reads, batched by event-loop turn (turn-batch.ts): under load one
   * statement carries every call of its kind that arrived meanwhile.
   */
  private readonly batches = {
    insert: new TurnBatch<TaskRecord, void>(
      async (tasks) => {
        await this.pool.query(insertTasks(tasks.length), tasks.flatMap(taskValues));
        return tasks.map(() => undefined);
      },
      { key: (t) => t.id, single: (t) => this.pool.query(Q.insertTask, taskValues(t)) },
    ),
    get: new TurnBatch<{ tenantId: string; id: string }, TaskRecord | null>(async (keys) => {
      const rows = await this.all(BATCH.getTasks, [keys.map((k) => k.tenantId), keys.map((k) => k.id)]);
      const byKey = new Map(rows.map((r) => [`${String(r['tenant_id'])}\n${String(r['id'])}`, r]));
      return keys.map((k) => {
        const row = byKey.get(`${k.tenantId}\n${k.id}`);
        return row ? taskFromRow(row) : null;
      });
    }),
    claim: new TurnBatch<ClaimTask, TaskRecord | null>(
      async (claims) =>
        this.byId(
          claims.map((c) => c.taskId),
          await this.all(BATCH.claimTasks, [
            claims.map((c) => c.taskId),
            claims.map((c) => c.delegate.id),
            claims.map((c) => json([...c.delegate.tags])),
            claims.map((c) => json([...c.delegate.taskTypes])),
            claims.map((c) => c.now),
            claims.map((c) => c.leaseExpiresAt),
            claims.map((c) => c.delegate.tenantId),
          ]),
        ),
      { key: (c) => c.taskId, single: (c) => this.claimOne(c) },
    ),
    running: new TurnBatch<MarkRunning, TaskRecord | null>(
      async (steps) =>
        this.byId(
          steps.map((s) => s.taskId),
          await this.all(BATCH.markRunning, [
            steps.map((s) => s.taskId),
            steps.map((s) => s.attempt),
            steps.map((s) => s.delegateId),
            steps.map((s) => s.now),
            steps.map((s) => s.leaseExpiresAt),
          ]),
        ),
      { key: (s) => s.taskId, single: (s) => this.markRunningOne(s) },
    ),
    complete: new TurnBatch<CompleteTask, TaskRecord | null>(
      async (steps) => {
        const outcomes = steps.map((s) => outcomeColumns(s.outcome));
        return this.byId(
          steps.map((s) => s.taskId),
          await this.all(BATCH.completeTasks, [
            steps.map((s) => s.taskId),
            steps.map((s) => s.attempt),
            steps.map((s) => s.delegateId),
            steps.map((s) => s.outcome.state),
            outcomes.map((o) => jsonOrNull(o.result)),
            outcomes.map((o) => jsonOrNull(o.error)),
            steps.map((s) => s.now),
            steps.map((s) => s.startedAt ?? null),
          ]),
        );
      },
      { key: (s) => s.taskId, single: (s) => this.completeOne(s) },
    ),
    // The claims of one turn: one statement per eligibility (tenant, tags, types) for all its
    // delegates' slots. A delegate asks once per statement (its pump is one at a time anyway).
    claims: new TurnBatch<{ claim: Claim; limit: number }, TaskRecord[]>((asks) => this.claimGroups(asks), {
      key: (a) => a.claim.delegate.id,
      single: (a) => this.claimGroups([a]),
    }),
    names: new TurnBatch<{ tenantId: string; ids: string[] }, Map<string, string>>(async (asks) => {
      const pairs = asks.flatMap((a) => a.ids.map((id) => [a.tenantId, id] as const));
      const rows = await this.all(BATCH.delegateNames, [pairs.map((p) => p[0]), pairs.map((p) => p[1])]);
      const byKey = new Map(rows.map((r) => [`${String(r['tenant_id'])}\n${String(r['id'])}`, String(r['name'])]));
      const namesOf = (a: { tenantId: string; ids: string[] }) =>
        a.ids.flatMap((id) => {
          const name = byKey.get(`${a.tenantId}\n${id}`);
          return name === undefined ? [] : [[id, name] as const];
        });
      return asks.map((a) => new Map(namesOf(a)));
    }),
    usage: new TurnBatch<string, OpenTaskUsage>(async (tenantIds) => {
      const rows = await this.all(BATCH.openTaskUsage, [distinctIds(tenantIds)]);
      const byTenant = new Map(rows.map((r) => [String(r['tenant_id']), { tasks: Number(r['tasks'] ?? 0), payloadBytes: Number(r['bytes'] ?? 0) }]));
      return tenantIds.map((id) => ({ ...(byTenant.get(id) ?? { tasks: 0, payloadBytes: 0 }) }));
    }),
  };

  /** The rows a batched UPDATE returned, as one answer per item (null: the fence did not match). */
  private byId(ids: readonly string[], rows: Row[]): Array<TaskRecord | null> {
    const byId = new Map(rows.map((r) => [String(r['id']), r]));
    return ids.map((id) => {
      const row = byId.get(id);
      return row ? taskFromRow(row) : null;
    });
  }

  private constructor(
    private readonly pool: pg.Pool,
    private readonly pingTimeoutMs: number,
  ) {
    this.identity = new PostgresIdentityStore(pool, (fn) => this.transaction(fn));
    this.oidc = new PostgresOidcStore(pool);
    this.audit = new PostgresAuditStore(pool);
  }

  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const pool = new pg.Pool({
      connectionString: opts.url,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 5_000,
      // Idle connections are closed after a while so a restarted or failed-over server is not
      // answered with stale sockets for long; keepAlive notices dead peers on idle connections.
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: 'attache-control-plane',
    });
    // An idle connection that the server drops (restart, failover, admin terminate) is reported
    // here. The pool has already discarded it and the next query opens a new one; without a
    // listener the EventEmitter would throw and take the process down.
    pool.on('error', () => undefined);
    return new PostgresStore(pool, opts.pingTimeoutMs ?? 2_000);
  }

  private async one(sql: string, params: unknown[], db: Db = this.pool): Promise<Row | undefined> {
    return (await db.query<Row>(sql, params)).rows[0];
  }

  private async all(sql: string, params: unknown[] = [], db: Db = this.pool): Promise<Row[]> {
    return (await db.query<Row>(sql, params)).rows;
  }

  /** Runs `fn` in one transaction on one connection; rolls back on any error. */
  private async transaction<T>(fn: (db: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const out = await fn(client);
      await client.query('COMMIT');
      return out;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => {
        // A connection that cannot even roll back is not returned to the pool.
        broken = rollbackErr;
      });
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async migrate(): Promise<void> {
    await migrate(this.pool);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('store closed');
    // Connecting and answering share one budget: readiness must answer within the probe's timeout
    // whether the server refuses, hangs on connect, or hangs on the query.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`PostgreSQL did not answer within ${this.pingTimeoutMs} ms`)), this.pingTimeoutMs);
    });
    // query_timeout makes node-postgres fail the query (and the pool drop its connection) on its
    // own, so a hung query does not keep a pooled connection after the race is lost.
    const query = this.pool.query({ text: 'SELECT 1', query_timeout: this.pingTimeoutMs } as pg.QueryConfig);
    query.catch(() => undefined);
    try {
      await Promise.race([query, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  // Tenants and keys

  async createTenant(tenant: NewTenant, apiKey: FirstApiKey, admin?: UserRecord): Promise<void> {
    await conflicting('tenant or API key', () =>
      this.transaction(async (db) => {
        await db.query(Q.insertTenant, [
          tenant.id,
          tenant.name,
          tenant.externalId,
          tenant.createdAt,
        ]);
        await db.query(Q.insertApiKey, [
          apiKey.id,
          apiKey.tenantId,
          apiKey.hash,
          apiKey.createdAt,
          INITIAL_KEY_NAME,
          apiKey.prefix ?? 'atk_',
        ]);
        if (admin) await db.query(IDENTITY.insertUser, userParams(admin));
      }),
    );
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const row = await this.one(Q.getTenant, [id]);
    return row ? tenantFromRow(row) : null;
  }

  // Delegate tokens

  async createDelegateToken(token: DelegateToken): Promise<void> {
    await conflicting('delegate token', () =>
      this.pool.query(
        Q.createDelegateToken,
        [token.id, token.tenantId, token.name, token.hash, token.createdAt, token.revokedAt, token.group, token.tags],
      ),
    );
  }

  async listDelegateTokens(tenantId: string, page?: ListPage<Date>): Promise<DelegateToken[]> {
    const rows = await this.all(
      Q.listDelegateTokens,
      [tenantId, ...pageParams(page)],
    );
    return rows.map(tokenFromRow);
  }

  async findDelegateTokenByHash(hash: string): Promise<DelegateToken | null> {
    const row = await this.one(Q.findDelegateTokenByHash, [hash]);
    return row ? tokenFromRow(row) : null;
  }

  async revokeDelegateToken(tenantId: string, id: string, at: Date): Promise<DelegateToken | null> {
    // The first revocation time stands: revoking again must not move it.
    const row = await this.one(
      Q.revokeDelegateToken,
      [tenantId, id, at],
    );
    return row ? tokenFromRow(row) : null;
  }

  async isDelegateGroupBound(tenantId: string, group: string): Promise<boolean> {
    const row = await this.one(
      Q.isDelegateGroupBound,
      [tenantId, group],
    );
    return row !== undefined;
  }

  // Delegates

  async upsertDelegate(d: DelegateRecord): Promise<void> {
    await this.pool.query(
      Q.upsertDelegate,
      [
        d.id,
        d.tenantId,
        d.tokenId,
        d.name,
        d.instanceId,
        d.tags,
        d.taskTypes,
        d.maxConcurrency,
        d.version,
        d.transport,
        d.status,
        d.inFlight,
        d.replicaId,
        d.connectedAt,
        d.lastHeartbeatAt,
        d.disconnectedAt,
        d.sessionId,
        jsonOrNull(d.policy),
      ],
    );
  }

  async endDelegateSession(id: string, sessionId: string, at: Date): Promise<boolean> {
    const res = await this.pool.query(
      Q.endDelegateSession,
      [id, sessionId, at],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async updateDelegatePresence(
    id: string,
    patch: { status?: DelegateStatus; inFlight?: number; lastHeartbeatAt?: Date; disconnectedAt?: Date | null },
  ): Promise<void> {
    await this.pool.query(
      Q.updateDelegatePresence,
      [
        id,
        patch.status ?? null,
        patch.inFlight ?? null,
        patch.lastHeartbeatAt ?? null,
        // `null` clears the field (reconnect) while `undefined` leaves it: hence the separate flag.
        patch.disconnectedAt !== undefined,
        patch.disconnectedAt ?? null,
      ],
    );
  }

  async listDelegates(tenantId: string, disconnectedSince: Date, page?: ListPage<string>): Promise<DelegateRecord[]> {
    const rows = await this.all(
      Q.listDelegates,
      [tenantId, disconnectedSince, ...pageParams(page)],
    );
    return rows.map(delegateFromRow);
  }

  delegateNames(tenantId: string, ids: readonly string[]): Promise<Map<string, string>> {
    return this.names.get(tenantId, ids);
  }

  async disconnectReplicaDelegates(replicaId: string, at: Date): Promise<void> {
    await this.pool.query(
      Q.disconnectReplicaDelegates,
      [replicaId, at],
    );
  }

  async countConnectedDelegates(tenantId: string, exceptId: string): Promise<number> {
    const row = await this.one(
      Q.countConnectedDelegates,
      [tenantId, exceptId],
    );
    return (row?.count as number | undefined) ?? 0;
  }

  async countDelegates(): Promise<Array<{ status: DelegateStatus; transport: string; count: number }>> {
    const rows = await this.all(
      Q.countDelegates,
    );
    return rows.map((r) => ({ status: r.status as DelegateStatus, transport: r.transport as string, count: r.count as number }));
  }

  async countConnectedDelegatesByVersion(): Promise<Array<{ version: string; count: number }>> {
    const rows = await this.all(
      Q.countConnectedDelegatesByVersion,
    );
    return rows.map((r) => ({ version: r.version as string, count: r.count as number }));
  }

  // Tasks

  async insertTask(t: TaskRecord): Promise<void> {
    await conflicting('task', () => this.batches.insert.add(t));
  }

  async createTasks(tasks: readonly TaskRecord[]): Promise<void> {
    if (tasks.length === 0) return;
    await conflicting('task', () =>
      this.transaction(async (db) => {
        for (let i = 0; i < tasks.length; i += TASK_INSERT_CHUNK) {
          const chunk = tasks.slice(i, i + TASK_INSERT_CHUNK);
          await db.query(insertTasks(chunk.length), chunk.flatMap(taskValues));
        }
      }),
    );
  }

  async getTask(tenantId: string, id: string): Promise<TaskRecord | null> {
    return this.batches.get.add({ tenantId, id });
  }

  async listTasks(tenantId: string, query: ListTasksQuery): Promise<TaskRecord[]> {
    const rows = await this.all(
      Q.listTasks,
      [tenantId, query.state ?? null, query.type ?? null, query.beforeId ?? null, Math.max(0, Math.trunc(query.limit))],
    );
    return rows.map(taskFromRow);
  }

  async claimTask(claim: ClaimTask): Promise<TaskRecord | null> {
    return this.batches.claim.add(claim);
  }

  private async claimOne(claim: ClaimTask): Promise<TaskRecord | null> {
    const row = await this.one(Q.claimTask, [
      claim.taskId,
      claim.delegate.id,
      [...claim.delegate.tags],
      [...claim.delegate.taskTypes],
      claim.now,
      claim.leaseExpiresAt,
      claim.delegate.tenantId,
    ]);
    return row ? taskFromRow(row) : null;
  }

  async claimNext(claim: Claim): Promise<TaskRecord | null> {
    return (await this.claimQueued(claim, 1))[0] ?? null;
  }

  claimQueued(claim: Claim, limit: number): Promise<TaskRecord[]> {
    return this.batches.claims.add({ claim, limit: Math.max(1, Math.trunc(limit)) });
  }

  /** Claims of delegates with the same eligibility share one statement (queries.ts claimQueuedMany). */
  private async claimGroups(asks: Array<{ claim: Claim; limit: number }>): Promise<TaskRecord[][]> {
    const groups = new Map<string, Array<{ claim: Claim; limit: number }>>();
    for (const a of asks) {
      const d = a.claim.delegate;
      const key = JSON.stringify([d.tenantId, d.tags, d.taskTypes]);
      const group = groups.get(key);
      if (group) group.push(a);
      else groups.set(key, [a]);
    }
    const claimed = new Map<string, TaskRecord[]>();
    await Promise.all(
      [...groups.values()].map(async (group) => {
        const d = group[0]!.claim.delegate;
        let first = 1;
        const firsts = group.map((a) => {
          const at = first;
          first += a.limit;
          return at;
        });
        const rows = await this.all(Q.claimQueuedMany, [
          d.tenantId,
          [...d.tags],
          [...d.taskTypes],
          first - 1,
          group.map((a) => a.claim.delegate.id),
          firsts,
          group.map((a) => a.limit),
          group.map((a) => a.claim.now),
          group.map((a) => a.claim.leaseExpiresAt),
        ]);
        for (const row of rows) {
          const task = taskFromRow(row);
          const mine = claimed.get(task.delegateId ?? '');
          if (mine) mine.push(task);
          else claimed.set(task.delegateId ?? '', [task]);
        }
      }),
    );
    return asks.map((a) => inQueueOrder(claimed.get(a.claim.delegate.id) ?? []));
  }

  async markRunning(step: MarkRunning): Promise<TaskRecord | null> {
    return this.batches.running.add(step);
  }

  private async markRunningOne(step: MarkRunning): Promise<TaskRecord | null> {
    const row = await this.one(Q.markRunning, [step.taskId, step.attempt, step.delegateId, step.now, step.leaseExpiresAt]);
    return row ? taskFromRow(row) : null;
  }

  async completeTask(step: CompleteTask): Promise<TaskRecord | null> {
    return this.batches.complete.add(step);
  }

  private async completeOne(step: CompleteTask): Promise<TaskRecord | null> {
    const { result, error } = outcomeColumns(step.outcome);
    const row = await this.one(Q.completeTask, [
      step.taskId,
      step.attempt,
      step.delegateId,
      step.outcome.state,
      jsonOrNull(result),
      jsonOrNull(error),
      step.now,
      step.startedAt ?? null,
    ]);
    return row ? taskFromRow(row) : null;
  }

  async requeueTask(step: RequeueTask): Promise<TaskRecord | null> {
    const row = await this.one(Q.requeue, [step.taskId, step.attempt, step.now, json(step.exhaustedError)]);
    return row ? taskFromRow(row) : null;
  }

  async extendLeases(delegateId: string, taskIds: readonly string[], leaseExpiresAt: Date): Promise<void> {
    if (taskIds.length === 0) return;
    await this.pool.query(Q.extendLeases, [
      delegateId,
      taskIds,
      leaseExpiresAt,
    ]);
  }

  async listActiveTasksOfDelegate(delegateId: string): Promise<TaskRecord[]> {
    const rows = await this.all(Q.listActiveTasksOfDelegate, [
      delegateId,
    ]);
    return rows.map(taskFromRow);
  }

  async listExpiredLeases(now: Date, limit: number): Promise<TaskRecord[]> {
    const rows = await this.all(
      Q.listExpiredLeases,
      [now, limit],
    );
    return rows.map(taskFromRow);
  }

  async listQueueTimedOut(now: Date, limit: number): Promise<TaskRecord[]> {
    const rows = await this.all(
      Q.listQueueTimedOut,
      [now, limit],
    );
    return rows.map(taskFromRow);
  }

  async listRunTimedOut(now: Date, limit: number): Promise<TaskRecord[]> {
    const rows = await this.all(
      Q.listRunTimedOut,
      [now, limit],
    );
    return rows.map(taskFromRow);
  }

  async finishTask(step: FinishTask): Promise<TaskRecord | null> {
    const row = await this.one(Q.finishTask, [
      step.tenantId,
      step.taskId,
      [...step.fromStates],
      step.state,
      json(step.error),
      step.now,
      step.attempt ?? null,
    ]);
    return row ? taskFromRow(row) : null;
  }

  async queueStats(tenantId: string): Promise<QueueGroupStats[]> {
    const rows = await this.all(
      Q.queueStats,
      [tenantId],
    );
    return rows.map((r) => ({
      selectors: r.selectors as string[],
      type: r.type as string,
      queued: r.queued as number,
      oldestQueuedAt: date(r.oldest),
    }));
  }

  async openTaskUsage(tenantId: string): Promise<OpenTaskUsage> {
    // Same WHERE as the partial index tasks_tenant_open (payload_bytes INCLUDEd): an index-only scan.
    return this.batches.usage.add(tenantId);
  }

  async deleteEndedTasks(endedBefore: Date, limit: number): Promise<number> {
    // SKIP LOCKED: replicas running retention at the same time delete disjoint batches, never wait.
    const res = await this.pool.query(
      Q.deleteEndedTasks,
      [endedBefore, Math.max(0, Math.trunc(limit))],
    );
    return res.rowCount ?? 0;
  }

  async globalTaskStats(): Promise<GlobalTaskStats> {
    // REPEATABLE READ: both numbers come from one snapshot, as the metrics expect.
    return this.transaction(async (db) => {
      await db.query(Q.readOnlySnapshot);
      const byTypeAndState = await this.all(
        Q.statsByTypeAndState,
        [],
        db,
      );
      const queued = await this.one(
        Q.statsQueued,
        [],
        db,
      );
      return {
        byTypeAndState: byTypeAndState.map((r) => ({ type: r.type as string, state: r.state as TaskState, count: r.count as number })),
        queued: (queued?.queued as number | undefined) ?? 0,
        oldestQueuedAt: dateOrNull(queued?.oldest),
      };
    });
  }

  // AWS accounts

  async createAccount(a: AwsAccountRecord): Promise<void> {
    await conflicting(`account "${a.name}"`, () =>
      this.pool.query(
        Q.createAccount,
        [
          a.id,
          a.tenantId,
          a.name,
          a.description,
          a.partition,
          json(a.auth),
          a.testRegion,
          a.delegateSelectors,
          json(a.endpoints),
          a.status,
          a.lastTaskId,
          a.lastCheckedAt,
          a.awsAccountId,
          a.arn,
          jsonOrNull(a.lastError),
          a.createdAt,
          a.updatedAt,
          a.gateway,
          a.policyArns,
        ],
      ),
    );
  }

  async getAccount(tenantId: string, id: string): Promise<AwsAccountRecord | null> {
    const row = await this.one(Q.getAccount, [tenantId, id]);
    return row ? accountFromRow(row) : null;
  }

  async listAccounts(tenantId: string, page?: ListPage<string>): Promise<AwsAccountRecord[]> {
    const rows = await this.all(
      Q.listAccounts,
      [tenantId, ...pageParams(page)],
    );
    return rows.map(accountFromRow);
  }

  async updateAccount(tenantId: string, id: string, patch: AccountPatch, now: Date): Promise<AwsAccountRecord | null> {
    const row = await conflicting(`account "${patch.name ?? id}"`, () =>
      this.one(
        Q.updateAccount,
        [
          tenantId,
          id,
          patch.name ?? null,
          patch.description ?? null,
          patch.partition ?? null,
          jsonOrNull(patch.auth),
          patch.testRegion ?? null,
          patch.delegateSelectors ?? null,
          jsonOrNull(patch.endpoints),
          now,
          patch.gateway !== undefined,
          patch.gateway ?? null,
          patch.policyArns ?? null,
        ],
      ),
    );
    return row ? accountFromRow(row) : null;
  }

  async deleteAccount(tenantId: string, id: string): Promise<boolean> {
    const res = await this.pool.query(Q.deleteAccount, [tenantId, id]);
    return (res.rowCount ?? 0) > 0;
  }

  async startValidation(tenantId: string, id: string, taskId: string, now: Date): Promise<AwsAccountRecord | null> {
    const row = await this.one(
      Q.startValidation,
      [tenantId, id, taskId, now],
    );
    return row ? accountFromRow(row) : null;
  }

  async recordValidation(tenantId: string, id: string, taskId: string, outcome: ValidationOutcome): Promise<AwsAccountRecord | null> {
    // Fenced by last_task_id: the outcome of a validation that a newer one replaced is dropped.
    const row = await this.one(
      Q.recordValidation,
      [tenantId, id, taskId, outcome.status, outcome.checkedAt, outcome.awsAccountId, outcome.arn, jsonOrNull(outcome.error)],
    );
    return row ? accountFromRow(row) : null;
  }

  // Delegate identities

  async recordDelegateIdentity(identity: DelegateIdentityRecord): Promise<void> {
    // A late report from an older validation never replaces a newer one.
    await this.pool.query(
      Q.recordDelegateIdentity,
      [
        identity.tenantId,
        identity.group,
        identity.partition,
        identity.arn,
        identity.awsAccountId,
        identity.taskId,
        identity.reportedAt,
      ],
    );
  }

  async listDelegateIdentities(tenantId: string): Promise<DelegateIdentityRecord[]> {
    const rows = await this.all(Q.listDelegateIdentities, [
      tenantId,
    ]);
    return rows.map(identityFromRow);
  }

  async recordGroupKeys(tenantId: string, group: string, keys: ReadonlyArray<{ keyId: string; algorithm: string; publicKey: string }>, at: Date): Promise<GroupKeyRecord[]> {
    if (keys.length === 0) return [];
    return this.transaction(async (db) => {
      // One group at a time: two first registrations racing must not both count as "the first".
      await db.query(Q.lockGroupKeys, [`attache.group-keys/${tenantId}/${group}`]);
      const known = await this.all(Q.groupKeyTrust, [tenantId, group], db);
      const trust = trustsAnnouncedKeys(
        known.map((r) => ({ keyId: r.key_id as string, trusted: r.trusted === true })),
        keys,
      );
      // GREATEST ignores NULL and keeps times moving forward only, so a slow replica's late write
      // cannot make an old key look current again; trust is only ever added.
      const rows = await this.all(
        Q.upsertGroupKeys,
        [tenantId, group, keys.map((k) => k.keyId), keys.map((k) => k.algorithm), keys.map((k) => k.publicKey), at, trust],
        db,
      );
      const byId = new Map(rows.map((r) => [r.key_id as string, groupKeyFromRow(r)]));
      return keys.map((k) => byId.get(k.keyId)!);
    });
  }

  async setGroupKeyTrust(tenantId: string, group: string, keyId: string, trusted: boolean): Promise<GroupKeyRecord | null> {
    const row = await this.one(
      Q.setGroupKeyTrust,
      [tenantId, group, keyId, trusted],
    );
    return row ? groupKeyFromRow(row) : null;
  }

  async listGroupKeys(tenantId: string, group: string): Promise<GroupKeyRecord[]> {
    const rows = await this.all(
      Q.listGroupKeys,
      [tenantId, group],
    );
    return rows.map(groupKeyFromRow);
  }
}

/** Multi-row INSERTs stay under PostgreSQL's 65,535 bind parameters. */
const TASK_INSERT_CHUNK = 500;

/** A task's values in the column order of Q.insertTask. */
function taskValues(t: TaskRecord): unknown[] {
  return [
    t.id,
    t.tenantId,
    t.type,
    json(t.payload),
    normalizeSelectors(t.selectors),
    t.priority,
    t.state,
    t.attempt,
    t.maxAttempts,
    t.delegateId,
    t.queueTimeoutSeconds,
    t.runTimeoutSeconds,
    jsonOrNull(t.result),
    jsonOrNull(t.error),
    t.accountId,
    t.createdAt,
    t.queuedAt,
    t.assignedAt,
    t.startedAt,
    t.endedAt,
    t.leaseExpiresAt,
    payloadBytes(t.payload),
    jsonOrNull(t.requestedBy),
  ];
}
