import pg from 'pg';
import type {
  AccountPatch,
  FirstApiKey,
  NewTenant,
  UserRecord,
  AwsAccountRecord,
  ClaimingDelegate,
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
  TaskError,
  TaskOutcome,
  TaskRecord,
  TaskState,
  Tenant,
  ValidationOutcome,
} from '../store.js';
import { payloadBytes } from '../store.js';
import { StoreConflictError } from '../store-errors.js';
import { migrate } from './schema.js';
import { INSERT_USER, PostgresIdentityStore, userParams } from './postgres-identity-store.js';
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

/** Sorted and de-duplicated, so equal selector sets group together in queue statistics. */
const normalizeSelectors = (selectors: readonly string[]): string[] => [...new Set(selectors)].sort();

const { tenantFromRow, tokenFromRow, delegateFromRow, taskFromRow, accountFromRow, identityFromRow, groupKeyFromRow } = rowMappers({
  // node-postgres parses timestamptz, text[] and jsonb itself.
  date: (v) => v as Date,
  json: <T>(v: unknown) => v as T,
});

/** SQLSTATE 23505: unique_violation. */
const isUniqueViolation = (err: unknown): boolean => err instanceof pg.DatabaseError && err.code === '23505';

/** Runs a write, turning a unique violation into the backend-neutral StoreConflictError. */
async function conflicting<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isUniqueViolation(err)) throw new StoreConflictError(`${what} already exists`, { cause: err });
    throw err;
  }
}

const ACTIVE = `('assigned', 'running')`;

const TASK_COLUMNS = `id, tenant_id, type, payload, selectors, priority, state, attempt, max_attempts,
  delegate_id, queue_timeout_seconds, run_timeout_seconds, result, error, account_id, created_at,
  queued_at, assigned_at, started_at, ended_at, lease_expires_at, payload_bytes, requested_by`;
const TASK_COLUMN_COUNT = 23;
const TASK_INSERT_CHUNK = 500;

/** `($from, ..., $from+count-1)`. */
const placeholders = (from: number, count: number): string => `(${Array.from({ length: count }, (_, i) => `$${from + i}`).join(', ')})`;

/** A task's values in TASK_COLUMNS order. */
const taskValues = (t: TaskRecord): unknown[] => [
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

/**
 * Eligibility, as in every backend: the delegate carries every selector and supports the type.
 * `$tags` and `$types` are text[] parameters at the positions given.
 */
const eligible = (tags: string, types: string) => `t.selectors <@ ${tags}::text[] AND t.type = ANY(${types}::text[])`;

const SQL = {
  claimTask: `UPDATE tasks AS t SET state = 'assigned', delegate_id = $2, assigned_at = $5, lease_expires_at = $6
    WHERE t.id = $1 AND t.tenant_id = $7 AND t.state = 'queued' AND ${eligible('$3', '$4')}
    RETURNING t.*`,
  // One statement: the subquery locks the best eligible queued row, skipping rows another
  // transaction (another replica's claim) holds, and the UPDATE assigns it. Under READ COMMITTED the
  // lock re-checks the row's current version, so a row claimed meanwhile no longer qualifies.
  // Two replicas therefore never assign the same attempt, and neither waits for the other.
  claimNext: `UPDATE tasks SET state = 'assigned', delegate_id = $2, assigned_at = $5, lease_expires_at = $6
    WHERE state = 'queued' AND id = (
      SELECT t.id FROM tasks t
      WHERE t.tenant_id = $1 AND t.state = 'queued' AND ${eligible('$3', '$4')}
      ORDER BY t.priority DESC, t.queued_at, t.id
      FOR UPDATE SKIP LOCKED
      LIMIT 1)
    RETURNING *`,
  // One statement for both outcomes, so there is no read-then-write window between replicas.
  requeue: `UPDATE tasks SET
      state            = CASE WHEN attempt >= max_attempts THEN 'failed' ELSE 'queued' END,
      error            = CASE WHEN attempt >= max_attempts THEN $4::jsonb ELSE error END,
      ended_at         = CASE WHEN attempt >= max_attempts THEN $3::timestamptz ELSE ended_at END,
      delegate_id      = CASE WHEN attempt >= max_attempts THEN delegate_id ELSE NULL END,
      assigned_at      = CASE WHEN attempt >= max_attempts THEN assigned_at ELSE NULL END,
      started_at       = CASE WHEN attempt >= max_attempts THEN started_at ELSE NULL END,
      queued_at        = CASE WHEN attempt >= max_attempts THEN queued_at ELSE $3::timestamptz END,
      attempt          = CASE WHEN attempt >= max_attempts THEN attempt ELSE attempt + 1 END,
      lease_expires_at = NULL
    WHERE id = $1 AND attempt = $2 AND state IN ${ACTIVE}
    RETURNING *`,
} as const;

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
        await db.query('INSERT INTO tenants (id, name, external_id, created_at) VALUES ($1, $2, $3, $4)', [
          tenant.id,
          tenant.name,
          tenant.externalId,
          tenant.createdAt,
        ]);
        await db.query(`INSERT INTO api_keys (id, tenant_id, hash, created_at, name, role, prefix) VALUES ($1, $2, $3, $4, $5, 'admin', $6)`, [
          apiKey.id,
          apiKey.tenantId,
          apiKey.hash,
          apiKey.createdAt,
          INITIAL_KEY_NAME,
          apiKey.prefix ?? 'atk_',
        ]);
        if (admin) await db.query(INSERT_USER, userParams(admin));
      }),
    );
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const row = await this.one('SELECT * FROM tenants WHERE id = $1', [id]);
    return row ? tenantFromRow(row) : null;
  }

  // Delegate tokens

  async createDelegateToken(token: DelegateToken): Promise<void> {
    await conflicting('delegate token', () =>
      this.pool.query(
        `INSERT INTO delegate_tokens (id, tenant_id, name, hash, created_at, revoked_at, group_name, bound_tags)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [token.id, token.tenantId, token.name, token.hash, token.createdAt, token.revokedAt, token.group, token.tags],
      ),
    );
  }

  async listDelegateTokens(tenantId: string, page?: ListPage<Date>): Promise<DelegateToken[]> {
    const rows = await this.all(
      `SELECT * FROM delegate_tokens WHERE tenant_id = $1
         AND ($2::timestamptz IS NULL OR created_at > $2 OR (created_at = $2 AND id > $3))
       ORDER BY created_at, id LIMIT $4`,
      [tenantId, ...pageParams(page)],
    );
    return rows.map(tokenFromRow);
  }

  async findDelegateTokenByHash(hash: string): Promise<DelegateToken | null> {
    const row = await this.one('SELECT * FROM delegate_tokens WHERE hash = $1', [hash]);
    return row ? tokenFromRow(row) : null;
  }

  async revokeDelegateToken(tenantId: string, id: string, at: Date): Promise<DelegateToken | null> {
    // The first revocation time stands: revoking again must not move it.
    const row = await this.one(
      'UPDATE delegate_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2 RETURNING *',
      [tenantId, id, at],
    );
    return row ? tokenFromRow(row) : null;
  }

  async isDelegateGroupBound(tenantId: string, group: string): Promise<boolean> {
    const row = await this.one(
      'SELECT 1 FROM delegate_tokens WHERE tenant_id = $1 AND group_name = $2 AND revoked_at IS NULL LIMIT 1',
      [tenantId, group],
    );
    return row !== undefined;
  }

  // Delegates

  async upsertDelegate(d: DelegateRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO delegates (id, tenant_id, token_id, name, instance_id, tags, task_types, max_concurrency,
         version, transport, status, in_flight, replica_id, connected_at, last_heartbeat_at, disconnected_at,
         session_id, policy)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18::jsonb)
       ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, token_id = excluded.token_id,
         name = excluded.name, instance_id = excluded.instance_id, tags = excluded.tags,
         task_types = excluded.task_types, max_concurrency = excluded.max_concurrency,
         version = excluded.version, transport = excluded.transport, status = excluded.status,
         in_flight = excluded.in_flight, replica_id = excluded.replica_id,
         connected_at = excluded.connected_at, last_heartbeat_at = excluded.last_heartbeat_at,
         disconnected_at = excluded.disconnected_at, session_id = excluded.session_id, policy = excluded.policy`,
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
      `UPDATE delegates SET status = 'disconnected', disconnected_at = $3, in_flight = 0
       WHERE id = $1 AND session_id = $2`,
      [id, sessionId, at],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async updateDelegatePresence(
    id: string,
    patch: { status?: DelegateStatus; inFlight?: number; lastHeartbeatAt?: Date; disconnectedAt?: Date | null },
  ): Promise<void> {
    await this.pool.query(
      `UPDATE delegates SET
         status = COALESCE($2::text, status),
         in_flight = COALESCE($3::integer, in_flight),
         last_heartbeat_at = COALESCE($4::timestamptz, last_heartbeat_at),
         disconnected_at = CASE WHEN $5::boolean THEN $6::timestamptz ELSE disconnected_at END
       WHERE id = $1`,
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
      `SELECT * FROM delegates WHERE tenant_id = $1 AND (status <> 'disconnected' OR disconnected_at >= $2)
         AND ($3::text IS NULL OR name > $3 OR (name = $3 AND id > $4))
       ORDER BY name, id LIMIT $5`,
      [tenantId, disconnectedSince, ...pageParams(page)],
    );
    return rows.map(delegateFromRow);
  }

  async delegateNames(tenantId: string, ids: readonly string[]): Promise<Map<string, string>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    const rows = await this.all('SELECT id, name FROM delegates WHERE tenant_id = $1 AND id = ANY($2::text[])', [tenantId, unique]);
    return new Map(rows.map((r) => [String(r['id']), String(r['name'])]));
  }

  async disconnectReplicaDelegates(replicaId: string, at: Date): Promise<void> {
    await this.pool.query(
      `UPDATE delegates SET status = 'disconnected', disconnected_at = $2 WHERE replica_id = $1 AND status <> 'disconnected'`,
      [replicaId, at],
    );
  }

  async countConnectedDelegates(tenantId: string, exceptId: string): Promise<number> {
    const row = await this.one(
      `SELECT COUNT(*)::int AS count FROM delegates WHERE tenant_id = $1 AND status <> 'disconnected' AND id <> $2`,
      [tenantId, exceptId],
    );
    return (row?.count as number | undefined) ?? 0;
  }

  async countDelegates(): Promise<Array<{ status: DelegateStatus; transport: string; count: number }>> {
    const rows = await this.all(
      'SELECT status, transport, COUNT(*)::int AS count FROM delegates GROUP BY status, transport ORDER BY status, transport',
    );
    return rows.map((r) => ({ status: r.status as DelegateStatus, transport: r.transport as string, count: r.count as number }));
  }

  async countConnectedDelegatesByVersion(): Promise<Array<{ version: string; count: number }>> {
    const rows = await this.all(
      `SELECT version, COUNT(*)::int AS count FROM delegates WHERE status <> 'disconnected' GROUP BY version ORDER BY version`,
    );
    return rows.map((r) => ({ version: r.version as string, count: r.count as number }));
  }

  // Tasks

  async insertTask(t: TaskRecord): Promise<void> {
    await conflicting('task', () => this.pool.query(`INSERT INTO tasks (${TASK_COLUMNS}) VALUES ${placeholders(1, TASK_COLUMN_COUNT)}`, taskValues(t)));
  }

  async createTasks(tasks: readonly TaskRecord[]): Promise<void> {
    if (tasks.length === 0) return;
    await conflicting('task', () =>
      this.transaction(async (db) => {
        // Multi-row INSERTs, each under PostgreSQL's 65,535 bind parameters.
        for (let i = 0; i < tasks.length; i += TASK_INSERT_CHUNK) {
          const chunk = tasks.slice(i, i + TASK_INSERT_CHUNK);
          const rows = chunk.map((_, r) => placeholders(r * TASK_COLUMN_COUNT + 1, TASK_COLUMN_COUNT)).join(', ');
          await db.query(`INSERT INTO tasks (${TASK_COLUMNS}) VALUES ${rows}`, chunk.flatMap(taskValues));
        }
      }),
    );
  }

  async getTask(tenantId: string, id: string): Promise<TaskRecord | null> {
    const row = await this.one('SELECT * FROM tasks WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return row ? taskFromRow(row) : null;
  }

  async listTasks(tenantId: string, query: ListTasksQuery): Promise<TaskRecord[]> {
    const rows = await this.all(
      `SELECT * FROM tasks WHERE tenant_id = $1
         AND ($2::text IS NULL OR state = $2)
         AND ($3::text IS NULL OR type = $3)
         AND ($4::text IS NULL OR id < $4)
       ORDER BY id DESC LIMIT $5`,
      [tenantId, query.state ?? null, query.type ?? null, query.beforeId ?? null, Math.max(0, Math.trunc(query.limit))],
    );
    return rows.map(taskFromRow);
  }

  async claimTask(taskId: string, delegate: ClaimingDelegate, now: Date, leaseExpiresAt: Date): Promise<TaskRecord | null> {
    const row = await this.one(SQL.claimTask, [
      taskId,
      delegate.id,
      [...delegate.tags],
      [...delegate.taskTypes],
      now,
      leaseExpiresAt,
      delegate.tenantId,
    ]);
    return row ? taskFromRow(row) : null;
  }

  async claimNext(delegate: ClaimingDelegate, now: Date, leaseExpiresAt: Date): Promise<TaskRecord | null> {
    const row = await this.one(SQL.claimNext, [
      delegate.tenantId,
      delegate.id,
      [...delegate.tags],
      [...delegate.taskTypes],
      now,
      leaseExpiresAt,
    ]);
    return row ? taskFromRow(row) : null;
  }

  async markRunning(taskId: string, attempt: number, delegateId: string, now: Date, leaseExpiresAt: Date): Promise<TaskRecord | null> {
    const row = await this.one(
      `UPDATE tasks SET state = 'running', started_at = $4, lease_expires_at = $5
       WHERE id = $1 AND attempt = $2 AND delegate_id = $3 AND state = 'assigned'
       RETURNING *`,
      [taskId, attempt, delegateId, now, leaseExpiresAt],
    );
    return row ? taskFromRow(row) : null;
  }

  async completeTask(taskId: string, attempt: number, delegateId: string, outcome: TaskOutcome, now: Date): Promise<TaskRecord | null> {
    const row = await this.one(
      `UPDATE tasks SET state = $4, result = $5::jsonb, error = $6::jsonb, ended_at = $7, lease_expires_at = NULL
       WHERE id = $1 AND attempt = $2 AND delegate_id = $3 AND state IN ${ACTIVE}
       RETURNING *`,
      [
        taskId,
        attempt,
        delegateId,
        outcome.state,
        outcome.state === 'succeeded' ? json(outcome.result) : null,
        outcome.state === 'failed' ? json(outcome.error) : null,
        now,
      ],
    );
    return row ? taskFromRow(row) : null;
  }

  async requeueTask(taskId: string, attempt: number, now: Date, exhaustedError: TaskError): Promise<TaskRecord | null> {
    const row = await this.one(SQL.requeue, [taskId, attempt, now, json(exhaustedError)]);
    return row ? taskFromRow(row) : null;
  }

  async extendLeases(delegateId: string, taskIds: readonly string[], leaseExpiresAt: Date): Promise<void> {
    if (taskIds.length === 0) return;
    await this.pool.query(`UPDATE tasks SET lease_expires_at = $3 WHERE id = ANY($2::text[]) AND delegate_id = $1 AND state IN ${ACTIVE}`, [
      delegateId,
      taskIds,
      leaseExpiresAt,
    ]);
  }

  async listActiveTasksOfDelegate(delegateId: string): Promise<TaskRecord[]> {
    const rows = await this.all(`SELECT * FROM tasks WHERE delegate_id = $1 AND state IN ${ACTIVE} ORDER BY assigned_at, id`, [
      delegateId,
    ]);
    return rows.map(taskFromRow);
  }

  async listExpiredLeases(now: Date, limit: number): Promise<TaskRecord[]> {
    const rows = await this.all(
      `SELECT * FROM tasks WHERE state IN ${ACTIVE} AND lease_expires_at < $1 ORDER BY lease_expires_at, id LIMIT $2`,
      [now, limit],
    );
    return rows.map(taskFromRow);
  }

  async listQueueTimedOut(now: Date, limit: number): Promise<TaskRecord[]> {
    const rows = await this.all(
      `SELECT * FROM tasks WHERE state = 'queued'
         AND queued_at + queue_timeout_seconds * interval '1 second' < $1
       ORDER BY queued_at, id LIMIT $2`,
      [now, limit],
    );
    return rows.map(taskFromRow);
  }

  async listRunTimedOut(now: Date, limit: number): Promise<TaskRecord[]> {
    const rows = await this.all(
      `SELECT * FROM tasks WHERE state IN ${ACTIVE}
         AND COALESCE(started_at, assigned_at) + run_timeout_seconds * interval '1 second' < $1
       ORDER BY COALESCE(started_at, assigned_at), id LIMIT $2`,
      [now, limit],
    );
    return rows.map(taskFromRow);
  }

  async finishTask(
    tenantId: string,
    taskId: string,
    fromStates: readonly TaskState[],
    state: 'failed' | 'cancelled' | 'expired',
    error: TaskError,
    now: Date,
    attempt?: number,
  ): Promise<TaskRecord | null> {
    const row = await this.one(
      `UPDATE tasks SET state = $4, error = $5::jsonb, ended_at = $6, lease_expires_at = NULL
       WHERE tenant_id = $1 AND id = $2 AND state = ANY($3::text[])
         AND ($7::integer IS NULL OR attempt = $7)
       RETURNING *`,
      [tenantId, taskId, [...fromStates], state, json(error), now, attempt ?? null],
    );
    return row ? taskFromRow(row) : null;
  }

  async queueStats(tenantId: string): Promise<QueueGroupStats[]> {
    const rows = await this.all(
      `SELECT selectors, type, COUNT(*)::int AS queued, MIN(queued_at) AS oldest FROM tasks
       WHERE tenant_id = $1 AND state = 'queued'
       GROUP BY selectors, type ORDER BY oldest, type, selectors`,
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
    const row = await this.one(
      `SELECT COUNT(*)::int AS tasks, COALESCE(SUM(payload_bytes), 0)::bigint AS bytes FROM tasks
       WHERE tenant_id = $1 AND state IN ('queued', 'assigned', 'running')`,
      [tenantId],
    );
    return { tasks: Number(row?.tasks ?? 0), payloadBytes: Number(row?.bytes ?? 0) };
  }

  async deleteEndedTasks(endedBefore: Date, limit: number): Promise<number> {
    // SKIP LOCKED: replicas running retention at the same time delete disjoint batches, never wait.
    const res = await this.pool.query(
      `DELETE FROM tasks WHERE id IN (
         SELECT id FROM tasks WHERE ended_at IS NOT NULL AND ended_at < $1
         ORDER BY ended_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [endedBefore, Math.max(0, Math.trunc(limit))],
    );
    return res.rowCount ?? 0;
  }

  async globalTaskStats(): Promise<GlobalTaskStats> {
    // REPEATABLE READ: both numbers come from one snapshot, as the metrics expect.
    return this.transaction(async (db) => {
      await db.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const byTypeAndState = await this.all(
        'SELECT type, state, COUNT(*)::int AS count FROM tasks GROUP BY type, state ORDER BY type, state',
        [],
        db,
      );
      const queued = await this.one(
        `SELECT COUNT(*)::int AS queued, MIN(queued_at) AS oldest FROM tasks WHERE state = 'queued'`,
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
        `INSERT INTO aws_accounts (id, tenant_id, name, description, partition, auth, test_region,
           delegate_selectors, endpoints, status, last_task_id, last_checked_at, aws_account_id, arn, last_error,
           created_at, updated_at, gateway, policy_arns)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
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
    const row = await this.one('SELECT * FROM aws_accounts WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return row ? accountFromRow(row) : null;
  }

  async listAccounts(tenantId: string, page?: ListPage<string>): Promise<AwsAccountRecord[]> {
    const rows = await this.all(
      `SELECT * FROM aws_accounts WHERE tenant_id = $1
         AND ($2::text IS NULL OR name > $2 OR (name = $2 AND id > $3))
       ORDER BY name, id LIMIT $4`,
      [tenantId, ...pageParams(page)],
    );
    return rows.map(accountFromRow);
  }

  async updateAccount(tenantId: string, id: string, patch: AccountPatch, now: Date): Promise<AwsAccountRecord | null> {
    const row = await conflicting(`account "${patch.name ?? id}"`, () =>
      this.one(
        `UPDATE aws_accounts SET
           name = COALESCE($3::text, name),
           description = COALESCE($4::text, description),
           partition = COALESCE($5::text, partition),
           auth = COALESCE($6::jsonb, auth),
           test_region = COALESCE($7::text, test_region),
           delegate_selectors = COALESCE($8::text[], delegate_selectors),
           endpoints = COALESCE($9::jsonb, endpoints),
           -- null is a value for the gateway (not pinned), so a flag says whether the patch sets it.
           gateway = CASE WHEN $11::boolean THEN $12::text ELSE gateway END,
           policy_arns = COALESCE($13::text[], policy_arns),
           updated_at = $10
         WHERE tenant_id = $1 AND id = $2
         RETURNING *`,
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
    const res = await this.pool.query('DELETE FROM aws_accounts WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return (res.rowCount ?? 0) > 0;
  }

  async startValidation(tenantId: string, id: string, taskId: string, now: Date): Promise<AwsAccountRecord | null> {
    const row = await this.one(
      `UPDATE aws_accounts SET status = 'validating', last_task_id = $3, updated_at = $4
       WHERE tenant_id = $1 AND id = $2
       RETURNING *`,
      [tenantId, id, taskId, now],
    );
    return row ? accountFromRow(row) : null;
  }

  async recordValidation(tenantId: string, id: string, taskId: string, outcome: ValidationOutcome): Promise<AwsAccountRecord | null> {
    // Fenced by last_task_id: the outcome of a validation that a newer one replaced is dropped.
    const row = await this.one(
      `UPDATE aws_accounts SET status = $4, last_checked_at = $5, aws_account_id = $6, arn = $7,
         last_error = $8::jsonb, updated_at = $5
       WHERE tenant_id = $1 AND id = $2 AND last_task_id = $3
       RETURNING *`,
      [tenantId, id, taskId, outcome.status, outcome.checkedAt, outcome.awsAccountId, outcome.arn, jsonOrNull(outcome.error)],
    );
    return row ? accountFromRow(row) : null;
  }

  // Delegate identities

  async recordDelegateIdentity(identity: DelegateIdentityRecord): Promise<void> {
    // A late report from an older validation never replaces a newer one.
    await this.pool.query(
      `INSERT INTO delegate_identities (tenant_id, group_name, partition, arn, aws_account_id, task_id, reported_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant_id, group_name, partition) DO UPDATE SET
         arn = excluded.arn, aws_account_id = excluded.aws_account_id, task_id = excluded.task_id,
         reported_at = excluded.reported_at
       WHERE excluded.reported_at >= delegate_identities.reported_at`,
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
    const rows = await this.all('SELECT * FROM delegate_identities WHERE tenant_id = $1 ORDER BY group_name, partition', [
      tenantId,
    ]);
    return rows.map(identityFromRow);
  }

  async recordGroupKeys(tenantId: string, group: string, keys: ReadonlyArray<{ keyId: string; algorithm: string; publicKey: string }>, at: Date): Promise<GroupKeyRecord[]> {
    if (keys.length === 0) return [];
    return this.transaction(async (db) => {
      // One group at a time: two first registrations racing must not both count as "the first".
      await db.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`attache.group-keys/${tenantId}/${group}`]);
      const known = await this.all('SELECT key_id, trusted FROM delegate_group_keys WHERE tenant_id = $1 AND group_name = $2', [tenantId, group], db);
      const trusted = known.filter((r) => r.trusted === true).map((r) => r.key_id as string);
      // Trust on first use only for a group with no keys at all: one whose trust an admin withdrew
      // must not trust the next key that comes along.
      const trust = known.length === 0 || keys.some((k) => trusted.includes(k.keyId));
      // GREATEST ignores NULL and keeps times moving forward only, so a slow replica's late write
      // cannot make an old key look current again; trust is only ever added.
      const rows = await this.all(
        `INSERT INTO delegate_group_keys (tenant_id, group_name, key_id, algorithm, public_key, first_seen_at, last_seen_at, last_current_at, trusted)
         SELECT $1, $2, k.key_id, k.algorithm, k.public_key, $6, $6, CASE WHEN k.ord = 1 THEN $6::timestamptz END, $7
         FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS k(key_id, algorithm, public_key, ord)
         ON CONFLICT (tenant_id, group_name, key_id) DO UPDATE SET
           last_seen_at = GREATEST(delegate_group_keys.last_seen_at, excluded.last_seen_at),
           last_current_at = GREATEST(delegate_group_keys.last_current_at, excluded.last_current_at),
           trusted = delegate_group_keys.trusted OR excluded.trusted
         RETURNING *`,
        [tenantId, group, keys.map((k) => k.keyId), keys.map((k) => k.algorithm), keys.map((k) => k.publicKey), at, trust],
        db,
      );
      const byId = new Map(rows.map((r) => [r.key_id as string, groupKeyFromRow(r)]));
      return keys.map((k) => byId.get(k.keyId)!);
    });
  }

  async setGroupKeyTrust(tenantId: string, group: string, keyId: string, trusted: boolean): Promise<GroupKeyRecord | null> {
    const row = await this.one(
      'UPDATE delegate_group_keys SET trusted = $4 WHERE tenant_id = $1 AND group_name = $2 AND key_id = $3 RETURNING *',
      [tenantId, group, keyId, trusted],
    );
    return row ? groupKeyFromRow(row) : null;
  }

  async listGroupKeys(tenantId: string, group: string): Promise<GroupKeyRecord[]> {
    const rows = await this.all(
      `SELECT * FROM delegate_group_keys WHERE tenant_id = $1 AND group_name = $2
       ORDER BY last_current_at DESC NULLS LAST, last_seen_at DESC, key_id`,
      [tenantId, group],
    );
    return rows.map(groupKeyFromRow);
  }
}
