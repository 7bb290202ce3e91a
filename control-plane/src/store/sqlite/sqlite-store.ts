import Database from 'better-sqlite3';
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
import { INITIAL_KEY_NAME } from '../identity-records.js';
import { migrate } from './schema.js';
import { SqliteIdentityStore } from './sqlite-identity-store.js';
import { SqliteOidcStore } from './sqlite-oidc-store.js';
import { SqliteAuditStore } from './sqlite-audit-store.js';
import { rowMappers, type Row } from '../row-mappers.js';

export interface SqliteStoreOptions {
  /** A file path, or `':memory:'` for a private in-process database (tests, throwaway runs). */
  path: string;
  /** How long a writer waits for another process's lock before failing; default 5000 ms. */
  busyTimeoutMs?: number;
}


const ms = (d: Date): number => d.getTime();
const msOrNull = (d: Date | null | undefined): number | null => (d ? d.getTime() : null);
const date = (v: unknown): Date => new Date(v as number);
const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(v as number));
const json = (v: unknown): string => JSON.stringify(v);
const jsonOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : JSON.stringify(v));
const parse = <T>(v: unknown): T => JSON.parse(v as string) as T;
/** A list's page as named parameters; LIMIT -1 is SQLite's "no limit". */
const pageParams = <K extends string | Date>(page: ListPage<K> | undefined, key: (k: K) => string | number) => ({
  limit: page ? Math.max(0, Math.trunc(page.limit)) : -1,
  afterKey: page?.after ? key(page.after.key) : null,
  afterId: page?.after?.id ?? null,
});

/** Selectors are compared as JSON text when grouping queue stats, so one spelling per set. */
const normalizeSelectors = (selectors: readonly string[]): string[] => [...new Set(selectors)].sort();

const { tenantFromRow, tokenFromRow, delegateFromRow, taskFromRow, accountFromRow, identityFromRow, groupKeyFromRow } = rowMappers({
  date: (v) => new Date(v as number),
  json: <T>(v: unknown) => JSON.parse(v as string) as T,
});

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Runs a write, turning a unique violation into the backend-neutral StoreConflictError. */
function conflicting<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (isUniqueViolation(err)) throw new StoreConflictError(`${what} already exists`, { cause: err });
    throw err;
  }
}

const ACTIVE = `('assigned', 'running')`;

/**
 * An eligible task: the delegate carries every selector, and supports the type. Selectors and
 * types are bound as JSON arrays so one prepared statement serves any delegate.
 */
const ELIGIBLE = `
  t.type IN (SELECT value FROM json_each(@taskTypes))
  AND NOT EXISTS (
    SELECT 1 FROM json_each(t.selectors) s
    WHERE s.value NOT IN (SELECT value FROM json_each(@tags))
  )`;

function prepareAll(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insertTenant: p(`INSERT INTO tenants (id, name, external_id, created_at) VALUES (?, ?, ?, ?)`),
    insertApiKey: p(`INSERT INTO api_keys (id, tenant_id, hash, created_at, name, role, prefix) VALUES (?, ?, ?, ?, ?, 'admin', ?)`),
    getTenant: p(`SELECT * FROM tenants WHERE id = ?`),

    insertToken: p(`INSERT INTO delegate_tokens (id, tenant_id, name, hash, created_at, revoked_at, group_name, bound_tags)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
    groupBound: p(`SELECT 1 FROM delegate_tokens
      WHERE tenant_id = ? AND group_name = ? AND revoked_at IS NULL LIMIT 1`),
    listTokens: p(`SELECT * FROM delegate_tokens WHERE tenant_id = @tenantId
        AND (@afterKey IS NULL OR created_at > @afterKey OR (created_at = @afterKey AND id > @afterId))
      ORDER BY created_at, id LIMIT @limit`),
    tokenByHash: p(`SELECT * FROM delegate_tokens WHERE hash = ?`),
    // The first revocation time stands: revoking again must not move it.
    revokeToken: p(`UPDATE delegate_tokens SET revoked_at = COALESCE(revoked_at, ?)
      WHERE tenant_id = ? AND id = ? RETURNING *`),

    upsertDelegate: p(`INSERT INTO delegates (id, tenant_id, token_id, name, instance_id, tags, task_types,
        max_concurrency, version, transport, status, in_flight, replica_id, connected_at, last_heartbeat_at,
        disconnected_at, session_id, policy)
      VALUES (@id, @tenantId, @tokenId, @name, @instanceId, @tags, @taskTypes, @maxConcurrency, @version,
        @transport, @status, @inFlight, @replicaId, @connectedAt, @lastHeartbeatAt, @disconnectedAt, @sessionId, @policy)
      ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, token_id = excluded.token_id,
        name = excluded.name, instance_id = excluded.instance_id, tags = excluded.tags,
        task_types = excluded.task_types, max_concurrency = excluded.max_concurrency,
        version = excluded.version, transport = excluded.transport, status = excluded.status,
        in_flight = excluded.in_flight, replica_id = excluded.replica_id,
        connected_at = excluded.connected_at, last_heartbeat_at = excluded.last_heartbeat_at,
        disconnected_at = excluded.disconnected_at, session_id = excluded.session_id, policy = excluded.policy`),
    endSession: p(`UPDATE delegates SET status = 'disconnected', disconnected_at = ?, in_flight = 0
      WHERE id = ? AND session_id = ?`),
    updatePresence: p(`UPDATE delegates SET
        status = COALESCE(@status, status),
        in_flight = COALESCE(@inFlight, in_flight),
        last_heartbeat_at = COALESCE(@lastHeartbeatAt, last_heartbeat_at),
        disconnected_at = CASE WHEN @setDisconnectedAt THEN @disconnectedAt ELSE disconnected_at END
      WHERE id = @id`),
    listDelegates: p(`SELECT * FROM delegates WHERE tenant_id = @tenantId
        AND (status <> 'disconnected' OR disconnected_at >= @since)
        AND (@afterKey IS NULL OR name > @afterKey OR (name = @afterKey AND id > @afterId))
      ORDER BY name, id LIMIT @limit`),
    // json_each: one statement for any number of ids, no SQL built from input.
    delegateNames: p(`SELECT id, name FROM delegates WHERE tenant_id = ? AND id IN (SELECT value FROM json_each(?))`),
    disconnectReplica: p(`UPDATE delegates SET status = 'disconnected', disconnected_at = ?
      WHERE replica_id = ? AND status <> 'disconnected'`),
    countConnected: p(`SELECT COUNT(*) AS count FROM delegates WHERE tenant_id = ? AND status <> 'disconnected' AND id <> ?`),
    countDelegates: p(`SELECT status, transport, COUNT(*) AS count FROM delegates
      GROUP BY status, transport ORDER BY status, transport`),
    countConnectedByVersion: p(`SELECT version, COUNT(*) AS count FROM delegates WHERE status <> 'disconnected'
      GROUP BY version ORDER BY version`),

    insertTask: p(`INSERT INTO tasks (id, tenant_id, type, payload, selectors, priority, state, attempt,
        max_attempts, delegate_id, queue_timeout_seconds, run_timeout_seconds, result, error, account_id,
        created_at, queued_at, assigned_at, started_at, ended_at, lease_expires_at, payload_bytes, requested_by)
      VALUES (@id, @tenantId, @type, @payload, @selectors, @priority, @state, @attempt, @maxAttempts,
        @delegateId, @queueTimeoutSeconds, @runTimeoutSeconds, @result, @error, @accountId, @createdAt,
        @queuedAt, @assignedAt, @startedAt, @endedAt, @leaseExpiresAt, @payloadBytes, @requestedBy)`),
    getTask: p(`SELECT * FROM tasks WHERE tenant_id = ? AND id = ?`),
    listTasks: p(`SELECT * FROM tasks WHERE tenant_id = @tenantId
        AND (@state IS NULL OR state = @state)
        AND (@type IS NULL OR type = @type)
        AND (@beforeId IS NULL OR id < @beforeId)
      ORDER BY id DESC LIMIT @limit`),
    claimTask: p(`UPDATE tasks AS t SET state = 'assigned', delegate_id = @delegateId, assigned_at = @now,
        lease_expires_at = @lease
      WHERE t.id = @taskId AND t.tenant_id = @tenantId AND t.state = 'queued' AND ${ELIGIBLE}
      RETURNING *`),
    claimNext: p(`UPDATE tasks SET state = 'assigned', delegate_id = @delegateId, assigned_at = @now,
        lease_expires_at = @lease
      WHERE state = 'queued' AND id = (
        SELECT t.id FROM tasks t
        WHERE t.tenant_id = @tenantId AND t.state = 'queued' AND ${ELIGIBLE}
        ORDER BY t.priority DESC, t.queued_at ASC, t.id ASC LIMIT 1)
      RETURNING *`),
    markRunning: p(`UPDATE tasks SET state = 'running', started_at = @now, lease_expires_at = @lease
      WHERE id = @taskId AND attempt = @attempt AND delegate_id = @delegateId AND state = 'assigned'
      RETURNING *`),
    completeTask: p(`UPDATE tasks SET state = @state, result = @result, error = @error, ended_at = @now,
        lease_expires_at = NULL
      WHERE id = @taskId AND attempt = @attempt AND delegate_id = @delegateId AND state IN ${ACTIVE}
      RETURNING *`),
    activeAtAttempt: p(`SELECT attempt, max_attempts FROM tasks
      WHERE id = ? AND attempt = ? AND state IN ${ACTIVE}`),
    requeue: p(`UPDATE tasks SET state = 'queued', attempt = attempt + 1, delegate_id = NULL,
        assigned_at = NULL, started_at = NULL, lease_expires_at = NULL, queued_at = @now
      WHERE id = @taskId AND attempt = @attempt AND state IN ${ACTIVE}
      RETURNING *`),
    exhaust: p(`UPDATE tasks SET state = 'failed', error = @error, ended_at = @now, lease_expires_at = NULL
      WHERE id = @taskId AND attempt = @attempt AND state IN ${ACTIVE}
      RETURNING *`),
    extendLeases: p(`UPDATE tasks SET lease_expires_at = ?
      WHERE id IN (SELECT value FROM json_each(?)) AND delegate_id = ? AND state IN ${ACTIVE}`),
    activeOfDelegate: p(`SELECT * FROM tasks WHERE delegate_id = ? AND state IN ${ACTIVE} ORDER BY assigned_at, id`),
    expiredLeases: p(`SELECT * FROM tasks WHERE state IN ${ACTIVE} AND lease_expires_at < ?
      ORDER BY lease_expires_at, id LIMIT ?`),
    queueTimedOut: p(`SELECT * FROM tasks WHERE state = 'queued'
        AND queued_at + queue_timeout_seconds * 1000 < ?
      ORDER BY queued_at, id LIMIT ?`),
    runTimedOut: p(`SELECT * FROM tasks WHERE state IN ${ACTIVE}
        AND COALESCE(started_at, assigned_at) + run_timeout_seconds * 1000 < ?
      ORDER BY COALESCE(started_at, assigned_at), id LIMIT ?`),
    finishTask: p(`UPDATE tasks SET state = @state, error = @error, ended_at = @now, lease_expires_at = NULL
      WHERE tenant_id = @tenantId AND id = @taskId
        AND state IN (SELECT value FROM json_each(@fromStates))
        AND (@attempt IS NULL OR attempt = @attempt)
      RETURNING *`),
    queueStats: p(`SELECT selectors, type, COUNT(*) AS queued, MIN(queued_at) AS oldest FROM tasks
      WHERE tenant_id = ? AND state = 'queued'
      GROUP BY selectors, type ORDER BY oldest, type, selectors`),
    // Same WHERE as the partial index tasks_tenant_open, which holds the tenant and payload_bytes:
    // the count reads the index alone, never the rows (INDEXED BY: fail loudly if it could not).
    openTaskUsage: p(`SELECT COUNT(*) AS tasks, COALESCE(SUM(payload_bytes), 0) AS bytes FROM tasks INDEXED BY tasks_tenant_open
      WHERE tenant_id = ? AND state IN ('queued', 'assigned', 'running')`),
    deleteEnded: p(`DELETE FROM tasks WHERE id IN (
        SELECT id FROM tasks WHERE ended_at IS NOT NULL AND ended_at < ? ORDER BY ended_at LIMIT ?)`),
    statsByTypeAndState: p(`SELECT type, state, COUNT(*) AS count FROM tasks
      GROUP BY type, state ORDER BY type, state`),
    statsQueued: p(`SELECT COUNT(*) AS queued, MIN(queued_at) AS oldest FROM tasks WHERE state = 'queued'`),

    insertAccount: p(`INSERT INTO aws_accounts (id, tenant_id, name, description, partition, auth, test_region,
        delegate_selectors, endpoints, status, last_task_id, last_checked_at, aws_account_id, arn, last_error,
        created_at, updated_at, gateway, policy_arns)
      VALUES (@id, @tenantId, @name, @description, @partition, @auth, @testRegion, @delegateSelectors,
        @endpoints, @status, @lastTaskId, @lastCheckedAt, @awsAccountId, @arn, @lastError, @createdAt,
        @updatedAt, @gateway, @policyArns)`),
    getAccount: p(`SELECT * FROM aws_accounts WHERE tenant_id = ? AND id = ?`),
    listAccounts: p(`SELECT * FROM aws_accounts WHERE tenant_id = @tenantId
        AND (@afterKey IS NULL OR name > @afterKey OR (name = @afterKey AND id > @afterId))
      ORDER BY name, id LIMIT @limit`),
    updateAccount: p(`UPDATE aws_accounts SET
        name = COALESCE(@name, name),
        description = COALESCE(@description, description),
        partition = COALESCE(@partition, partition),
        auth = COALESCE(@auth, auth),
        test_region = COALESCE(@testRegion, test_region),
        delegate_selectors = COALESCE(@delegateSelectors, delegate_selectors),
        endpoints = COALESCE(@endpoints, endpoints),
        -- null is a value for the gateway (not pinned), so a flag says whether the patch sets it.
        gateway = CASE WHEN @gatewaySet = 1 THEN @gateway ELSE gateway END,
        policy_arns = COALESCE(@policyArns, policy_arns),
        updated_at = @now
      WHERE tenant_id = @tenantId AND id = @id
      RETURNING *`),
    deleteAccount: p(`DELETE FROM aws_accounts WHERE tenant_id = ? AND id = ?`),
    startValidation: p(`UPDATE aws_accounts SET status = 'validating', last_task_id = @taskId, updated_at = @now
      WHERE tenant_id = @tenantId AND id = @id
      RETURNING *`),
    // Fenced by last_task_id: the outcome of a validation that a newer one replaced is dropped.
    recordValidation: p(`UPDATE aws_accounts SET status = @status, last_checked_at = @checkedAt,
        aws_account_id = @awsAccountId, arn = @arn, last_error = @error, updated_at = @checkedAt
      WHERE tenant_id = @tenantId AND id = @id AND last_task_id = @taskId
      RETURNING *`),

    // A late report from an older validation never replaces a newer one.
    upsertIdentity: p(`INSERT INTO delegate_identities (tenant_id, group_name, partition, arn, aws_account_id, task_id, reported_at)
      VALUES (@tenantId, @group, @partition, @arn, @awsAccountId, @taskId, @reportedAt)
      ON CONFLICT (tenant_id, group_name, partition) DO UPDATE SET
        arn = excluded.arn, aws_account_id = excluded.aws_account_id, task_id = excluded.task_id,
        reported_at = excluded.reported_at
      WHERE excluded.reported_at >= delegate_identities.reported_at`),
    listIdentities: p(`SELECT * FROM delegate_identities WHERE tenant_id = ? ORDER BY group_name, partition`),

    // Times only move forward, so a slow replica's late write cannot make an old key look current again.
    upsertGroupKey: p(`INSERT INTO delegate_group_keys (tenant_id, group_name, key_id, algorithm, public_key, first_seen_at, last_seen_at, last_current_at, trusted)
      VALUES (@tenantId, @group, @keyId, @algorithm, @publicKey, @at, @at, @currentAt, @trusted)
      ON CONFLICT (tenant_id, group_name, key_id) DO UPDATE SET
        last_seen_at = MAX(delegate_group_keys.last_seen_at, excluded.last_seen_at),
        last_current_at = CASE
          WHEN excluded.last_current_at IS NULL THEN delegate_group_keys.last_current_at
          ELSE MAX(COALESCE(delegate_group_keys.last_current_at, 0), excluded.last_current_at) END,
        trusted = MAX(delegate_group_keys.trusted, excluded.trusted)
      RETURNING *`),
    groupKeyTrust: p(`SELECT key_id, trusted FROM delegate_group_keys WHERE tenant_id = ? AND group_name = ?`),
    setGroupKeyTrust: p(`UPDATE delegate_group_keys SET trusted = ? WHERE tenant_id = ? AND group_name = ? AND key_id = ? RETURNING *`),
    listGroupKeys: p(`SELECT * FROM delegate_group_keys WHERE tenant_id = ? AND group_name = ?
      ORDER BY COALESCE(last_current_at, 0) DESC, last_seen_at DESC, key_id`),
  };
}

type Statements = ReturnType<typeof prepareAll>;

/** Store methods that write: they join the current group commit (see SqliteStore.groupCommit). */
const WRITE_METHODS = [
  'createTenant',
  'createDelegateToken',
  'revokeDelegateToken',
  'upsertDelegate',
  'updateDelegatePresence',
  'endDelegateSession',
  'disconnectReplicaDelegates',
  'insertTask',
  'createTasks',
  'claimTask',
  'claimNext',
  'markRunning',
  'completeTask',
  'requeueTask',
  'extendLeases',
  'finishTask',
  'deleteEndedTasks',
  'createAccount',
  'updateAccount',
  'deleteAccount',
  'startValidation',
  'recordValidation',
  'recordDelegateIdentity',
  'recordGroupKeys',
  'setGroupKeyTrust',
] as const satisfies ReadonlyArray<keyof Store>;

/**
 * The embedded Store: one better-sqlite3 connection, WAL. better-sqlite3 is synchronous, so every
 * method runs to completion before another can start in this process; the async signatures only
 * match the Store contract. Multi-statement steps still run in IMMEDIATE transactions so that a
 * second process on the same file (a CLI, a second replica by mistake) cannot interleave.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  private stmts: Statements | undefined;
  private batch: Array<{ settle: () => void; fail: (err: unknown) => void }> | null = null;
  readonly identity: SqliteIdentityStore;
  readonly oidc: SqliteOidcStore;
  readonly audit: SqliteAuditStore;

  private constructor(private readonly db: Database.Database) {
    this.identity = new SqliteIdentityStore(db, (run) => this.groupCommit(run));
    this.oidc = new SqliteOidcStore(db, (run) => this.groupCommit(run));
    this.audit = new SqliteAuditStore(db, (run) => this.groupCommit(run));
    for (const name of WRITE_METHODS) {
      const method = (this as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>)[name];
      if (typeof method !== 'function') throw new Error(`SqliteStore has no method ${name}`);
      (this as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => this.groupCommit(() => method.apply(this, args));
    }
  }

  /**
   * Group commit. Every write of one event-loop turn runs inside one IMMEDIATE transaction that
   * commits on the next turn; each write's promise settles only after that COMMIT, so nothing is
   * acknowledged before it is durable. Under load one commit (and one WAL append of the touched
   * pages) serves many task transitions instead of one each. Statements still run one at a time,
   * in order, so every fenced UPDATE sees the effects of the ones before it.
   */
  private groupCommit<T>(run: () => Promise<T>): Promise<T> {
    if (this.batch === null) {
      this.db.exec('BEGIN IMMEDIATE');
      const batch: Array<{ settle: () => void; fail: (err: unknown) => void }> = [];
      this.batch = batch;
      setImmediate(() => this.commit(batch));
    }
    const batch = this.batch;
    // better-sqlite3 is synchronous: the method body has run by the time `run()` returns.
    const outcome = run();
    return new Promise<T>((resolve, reject) => {
      // Observe the outcome now (a rejection left unobserved until the commit would be reported as
      // unhandled), deliver it after the commit.
      const deliver = outcome.then(
        (value) => () => resolve(value),
        (err: unknown) => () => reject(err),
      );
      batch.push({ settle: () => void deliver.then((finish) => finish()), fail: reject });
    });
  }

  private commit(batch: Array<{ settle: () => void; fail: (err: unknown) => void }>): void {
    if (this.batch === batch) this.batch = null;
    try {
      // SQLite rolls a transaction back by itself on some errors (disk full, I/O): then nothing of
      // this batch is durable and every write in it must fail.
      if (!this.db.inTransaction) throw new Error('the group commit transaction was rolled back by SQLite');
      this.db.exec('COMMIT');
    } catch (err) {
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {
        // The connection is unusable; every waiter gets the commit error below.
      }
      for (const w of batch) w.fail(err);
      return;
    }
    for (const w of batch) w.settle();
  }

  static open(opts: SqliteStoreOptions): SqliteStore {
    const db = new Database(opts.path);
    db.pragma('journal_mode = WAL');
    // NORMAL under WAL loses at most the last commits on power loss, never consistency.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Hot pages stay in memory and reads map the file instead of copying it: the queue's working
    // set is small and re-read on every transition.
    db.pragma('cache_size = -32000');
    db.pragma('temp_store = MEMORY');
    db.pragma('mmap_size = 268435456');
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(opts.busyTimeoutMs ?? 5000))}`);
    return new SqliteStore(db);
  }

  /** Statements need the tables, so they are prepared on first use rather than in open(). */
  private get q(): Statements {
    this.stmts ??= prepareAll(this.db);
    return this.stmts;
  }

  async migrate(): Promise<void> {
    migrate(this.db);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.batch) this.commit(this.batch);
    if (this.db.open) this.db.close();
  }

  // Tenants and keys

  async createTenant(tenant: NewTenant, apiKey: FirstApiKey, admin?: UserRecord): Promise<void> {
    conflicting('tenant or API key', () =>
      this.db
        .transaction(() => {
          this.q.insertTenant.run(tenant.id, tenant.name, tenant.externalId, ms(tenant.createdAt));
          this.q.insertApiKey.run(apiKey.id, apiKey.tenantId, apiKey.hash, ms(apiKey.createdAt), INITIAL_KEY_NAME, apiKey.prefix ?? 'atk_');
          if (admin) this.identity.insertUserNow(admin);
        })
        .immediate(),
    );
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const row = this.q.getTenant.get(id) as Row | undefined;
    return row ? tenantFromRow(row) : null;
  }

  // Delegate tokens

  async createDelegateToken(token: DelegateToken): Promise<void> {
    conflicting('delegate token', () =>
      this.q.insertToken.run(
        token.id,
        token.tenantId,
        token.name,
        token.hash,
        ms(token.createdAt),
        msOrNull(token.revokedAt),
        token.group,
        token.tags === null ? null : JSON.stringify(token.tags),
      ),
    );
  }

  async listDelegateTokens(tenantId: string, page?: ListPage<Date>): Promise<DelegateToken[]> {
    return (this.q.listTokens.all({ tenantId, ...pageParams(page, ms) }) as Row[]).map(tokenFromRow);
  }

  async findDelegateTokenByHash(hash: string): Promise<DelegateToken | null> {
    const row = this.q.tokenByHash.get(hash) as Row | undefined;
    return row ? tokenFromRow(row) : null;
  }

  async revokeDelegateToken(tenantId: string, id: string, at: Date): Promise<DelegateToken | null> {
    const row = this.q.revokeToken.get(ms(at), tenantId, id) as Row | undefined;
    return row ? tokenFromRow(row) : null;
  }

  async isDelegateGroupBound(tenantId: string, group: string): Promise<boolean> {
    return this.q.groupBound.get(tenantId, group) !== undefined;
  }

  // Delegates

  async upsertDelegate(d: DelegateRecord): Promise<void> {
    this.q.upsertDelegate.run({
      id: d.id,
      tenantId: d.tenantId,
      tokenId: d.tokenId,
      name: d.name,
      instanceId: d.instanceId,
      tags: json(d.tags),
      taskTypes: json(d.taskTypes),
      maxConcurrency: d.maxConcurrency,
      version: d.version,
      transport: d.transport,
      status: d.status,
      inFlight: d.inFlight,
      replicaId: d.replicaId,
      connectedAt: ms(d.connectedAt),
      lastHeartbeatAt: ms(d.lastHeartbeatAt),
      disconnectedAt: msOrNull(d.disconnectedAt),
      sessionId: d.sessionId,
      policy: d.policy ? json(d.policy) : null,
    });
  }

  async endDelegateSession(id: string, sessionId: string, at: Date): Promise<boolean> {
    return this.q.endSession.run(ms(at), id, sessionId).changes > 0;
  }

  async updateDelegatePresence(
    id: string,
    patch: { status?: DelegateStatus; inFlight?: number; lastHeartbeatAt?: Date; disconnectedAt?: Date | null },
  ): Promise<void> {
    this.q.updatePresence.run({
      id,
      status: patch.status ?? null,
      inFlight: patch.inFlight ?? null,
      lastHeartbeatAt: msOrNull(patch.lastHeartbeatAt),
      // `null` clears the field (reconnect) while `undefined` leaves it: hence the separate flag.
      setDisconnectedAt: patch.disconnectedAt === undefined ? 0 : 1,
      disconnectedAt: msOrNull(patch.disconnectedAt),
    });
  }

  async listDelegates(tenantId: string, disconnectedSince: Date, page?: ListPage<string>): Promise<DelegateRecord[]> {
    return (this.q.listDelegates.all({ tenantId, since: ms(disconnectedSince), ...pageParams(page, String) }) as Row[]).map(delegateFromRow);
  }

  async delegateNames(tenantId: string, ids: readonly string[]): Promise<Map<string, string>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    const rows = this.q.delegateNames.all(tenantId, JSON.stringify(unique)) as Array<{ id: string; name: string }>;
    return new Map(rows.map((r) => [r.id, r.name]));
  }

  async disconnectReplicaDelegates(replicaId: string, at: Date): Promise<void> {
    this.q.disconnectReplica.run(ms(at), replicaId);
  }

  async countConnectedDelegates(tenantId: string, exceptId: string): Promise<number> {
    return (this.q.countConnected.get(tenantId, exceptId) as { count: number }).count;
  }

  async countDelegates(): Promise<Array<{ status: DelegateStatus; transport: string; count: number }>> {
    return (this.q.countDelegates.all() as Array<{ status: DelegateStatus; transport: string; count: number }>).map(
      (r) => ({ status: r.status, transport: r.transport, count: r.count }),
    );
  }

  async countConnectedDelegatesByVersion(): Promise<Array<{ version: string; count: number }>> {
    return (this.q.countConnectedByVersion.all() as Array<{ version: string; count: number }>).map((r) => ({ version: r.version, count: r.count }));
  }

  // Tasks

  async insertTask(t: TaskRecord): Promise<void> {
    conflicting('task', () => this.insertTaskRow(t));
  }

  async createTasks(tasks: readonly TaskRecord[]): Promise<void> {
    // Inside the group commit's transaction better-sqlite3 makes this a savepoint: a conflict rolls
    // back this batch only, not the other writes of the turn.
    conflicting('task', () => this.db.transaction(() => tasks.forEach((t) => this.insertTaskRow(t)))());
  }

  private insertTaskRow(t: TaskRecord): void {
    this.q.insertTask.run({
        id: t.id,
        tenantId: t.tenantId,
        type: t.type,
        payload: json(t.payload),
        selectors: json(normalizeSelectors(t.selectors)),
        priority: t.priority,
        state: t.state,
        attempt: t.attempt,
        maxAttempts: t.maxAttempts,
        delegateId: t.delegateId,
        queueTimeoutSeconds: t.queueTimeoutSeconds,
        runTimeoutSeconds: t.runTimeoutSeconds,
        result: jsonOrNull(t.result),
        error: jsonOrNull(t.error),
        accountId: t.accountId,
        createdAt: ms(t.createdAt),
        queuedAt: ms(t.queuedAt),
        assignedAt: msOrNull(t.assignedAt),
        startedAt: msOrNull(t.startedAt),
        endedAt: msOrNull(t.endedAt),
        leaseExpiresAt: msOrNull(t.leaseExpiresAt),
        payloadBytes: payloadBytes(t.payload),
        requestedBy: jsonOrNull(t.requestedBy),
    });
  }

  async getTask(tenantId: string, id: string): Promise<TaskRecord | null> {
    const row = this.q.getTask.get(tenantId, id) as Row | undefined;
    return row ? taskFromRow(row) : null;
  }

  async listTasks(tenantId: string, query: ListTasksQuery): Promise<TaskRecord[]> {
    const rows = this.q.listTasks.all({
      tenantId,
      state: query.state ?? null,
      type: query.type ?? null,
      beforeId: query.beforeId ?? null,
      limit: Math.max(0, Math.trunc(query.limit)),
    }) as Row[];
    return rows.map(taskFromRow);
  }

  async claimTask(taskId: string, delegate: ClaimingDelegate, now: Date, leaseExpiresAt: Date): Promise<TaskRecord | null> {
    const row = this.q.claimTask.get({ taskId, ...this.claimParams(delegate, now, leaseExpiresAt) }) as Row | undefined;
    return row ? taskFromRow(row) : null;
  }

  async claimNext(delegate: ClaimingDelegate, now: Date, leaseExpiresAt: Date): Promise<TaskRecord | null> {
    const row = this.q.claimNext.get(this.claimParams(delegate, now, leaseExpiresAt)) as Row | undefined;
    return row ? taskFromRow(row) : null;
  }

  private claimParams(delegate: ClaimingDelegate, now: Date, leaseExpiresAt: Date) {
    return {
      delegateId: delegate.id,
      tenantId: delegate.tenantId,
      tags: json(delegate.tags),
      taskTypes: json(delegate.taskTypes),
      now: ms(now),
      lease: ms(leaseExpiresAt),
    };
  }

  async markRunning(taskId: string, attempt: number, delegateId: string, now: Date, leaseExpiresAt: Date): Promise<TaskRecord | null> {
    const row = this.q.markRunning.get({ taskId, attempt, delegateId, now: ms(now), lease: ms(leaseExpiresAt) }) as Row | undefined;
    return row ? taskFromRow(row) : null;
  }

  async completeTask(taskId: string, attempt: number, delegateId: string, outcome: TaskOutcome, now: Date): Promise<TaskRecord | null> {
    const row = this.q.completeTask.get({
      taskId,
      attempt,
      delegateId,
      state: outcome.state,
      result: outcome.state === 'succeeded' ? json(outcome.result) : null,
      error: outcome.state === 'failed' ? json(outcome.error) : null,
      now: ms(now),
    }) as Row | undefined;
    return row ? taskFromRow(row) : null;
  }

  async requeueTask(taskId: string, attempt: number, now: Date, exhaustedError: TaskError): Promise<TaskRecord | null> {
    const step = this.db.transaction((): Row | undefined => {
      const current = this.q.activeAtAttempt.get(taskId, attempt) as { attempt: number; max_attempts: number } | undefined;
      if (!current) return undefined;
      if (current.attempt >= current.max_attempts) {
        return this.q.exhaust.get({ taskId, attempt, error: json(exhaustedError), now: ms(now) }) as Row | undefined;
      }
      return this.q.requeue.get({ taskId, attempt, now: ms(now) }) as Row | undefined;
    });
    const row = step.immediate();
    return row ? taskFromRow(row) : null;
  }

  async extendLeases(delegateId: string, taskIds: readonly string[], leaseExpiresAt: Date): Promise<void> {
    if (taskIds.length === 0) return;
    this.q.extendLeases.run(ms(leaseExpiresAt), json(taskIds), delegateId);
  }

  async listActiveTasksOfDelegate(delegateId: string): Promise<TaskRecord[]> {
    return (this.q.activeOfDelegate.all(delegateId) as Row[]).map(taskFromRow);
  }

  async listExpiredLeases(now: Date, limit: number): Promise<TaskRecord[]> {
    return (this.q.expiredLeases.all(ms(now), limit) as Row[]).map(taskFromRow);
  }

  async listQueueTimedOut(now: Date, limit: number): Promise<TaskRecord[]> {
    return (this.q.queueTimedOut.all(ms(now), limit) as Row[]).map(taskFromRow);
  }

  async listRunTimedOut(now: Date, limit: number): Promise<TaskRecord[]> {
    return (this.q.runTimedOut.all(ms(now), limit) as Row[]).map(taskFromRow);
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
    const row = this.q.finishTask.get({
      tenantId,
      taskId,
      fromStates: json(fromStates),
      state,
      error: json(error),
      now: ms(now),
      attempt: attempt ?? null,
    }) as Row | undefined;
    return row ? taskFromRow(row) : null;
  }

  async queueStats(tenantId: string): Promise<QueueGroupStats[]> {
    const rows = this.q.queueStats.all(tenantId) as Array<{ selectors: string; type: string; queued: number; oldest: number }>;
    return rows.map((r) => ({
      selectors: parse<string[]>(r.selectors),
      type: r.type,
      queued: r.queued,
      oldestQueuedAt: date(r.oldest),
    }));
  }

  async openTaskUsage(tenantId: string): Promise<OpenTaskUsage> {
    const row = this.q.openTaskUsage.get(tenantId) as { tasks: number; bytes: number };
    return { tasks: row.tasks, payloadBytes: row.bytes };
  }

  async deleteEndedTasks(endedBefore: Date, limit: number): Promise<number> {
    return this.q.deleteEnded.run(ms(endedBefore), Math.max(0, Math.trunc(limit))).changes;
  }

  async globalTaskStats(): Promise<GlobalTaskStats> {
    const read = this.db.transaction(() => ({
      byTypeAndState: this.q.statsByTypeAndState.all() as Array<{ type: string; state: TaskState; count: number }>,
      queued: this.q.statsQueued.get() as { queued: number; oldest: number | null },
    }));
    // DEFERRED: a consistent read snapshot without taking the write lock.
    const { byTypeAndState, queued } = read.deferred();
    return {
      byTypeAndState: byTypeAndState.map((r) => ({ type: r.type, state: r.state, count: r.count })),
      queued: queued.queued,
      oldestQueuedAt: dateOrNull(queued.oldest),
    };
  }

  // AWS accounts

  async createAccount(a: AwsAccountRecord): Promise<void> {
    conflicting(`account "${a.name}"`, () =>
      this.q.insertAccount.run({
        id: a.id,
        tenantId: a.tenantId,
        name: a.name,
        description: a.description,
        partition: a.partition,
        auth: json(a.auth),
        testRegion: a.testRegion,
        delegateSelectors: json(a.delegateSelectors),
        endpoints: json(a.endpoints),
        status: a.status,
        lastTaskId: a.lastTaskId,
        lastCheckedAt: msOrNull(a.lastCheckedAt),
        awsAccountId: a.awsAccountId,
        arn: a.arn,
        lastError: jsonOrNull(a.lastError),
        createdAt: ms(a.createdAt),
        updatedAt: ms(a.updatedAt),
        gateway: a.gateway,
        policyArns: json(a.policyArns),
      }),
    );
  }

  async getAccount(tenantId: string, id: string): Promise<AwsAccountRecord | null> {
    const row = this.q.getAccount.get(tenantId, id) as Row | undefined;
    return row ? accountFromRow(row) : null;
  }

  async listAccounts(tenantId: string, page?: ListPage<string>): Promise<AwsAccountRecord[]> {
    return (this.q.listAccounts.all({ tenantId, ...pageParams(page, String) }) as Row[]).map(accountFromRow);
  }

  async updateAccount(tenantId: string, id: string, patch: AccountPatch, now: Date): Promise<AwsAccountRecord | null> {
    const row = conflicting(`account "${patch.name ?? id}"`, () =>
      this.q.updateAccount.get({
        tenantId,
        id,
        name: patch.name ?? null,
        description: patch.description ?? null,
        partition: patch.partition ?? null,
        auth: jsonOrNull(patch.auth),
        testRegion: patch.testRegion ?? null,
        delegateSelectors: jsonOrNull(patch.delegateSelectors),
        endpoints: jsonOrNull(patch.endpoints),
        gatewaySet: patch.gateway !== undefined ? 1 : 0,
        gateway: patch.gateway ?? null,
        policyArns: jsonOrNull(patch.policyArns),
        now: ms(now),
      }),
    ) as Row | undefined;
    return row ? accountFromRow(row) : null;
  }

  async deleteAccount(tenantId: string, id: string): Promise<boolean> {
    return this.q.deleteAccount.run(tenantId, id).changes > 0;
  }

  async startValidation(tenantId: string, id: string, taskId: string, now: Date): Promise<AwsAccountRecord | null> {
    const row = this.q.startValidation.get({ tenantId, id, taskId, now: ms(now) }) as Row | undefined;
    return row ? accountFromRow(row) : null;
  }

  async recordValidation(tenantId: string, id: string, taskId: string, outcome: ValidationOutcome): Promise<AwsAccountRecord | null> {
    const row = this.q.recordValidation.get({
      tenantId,
      id,
      taskId,
      status: outcome.status,
      checkedAt: ms(outcome.checkedAt),
      awsAccountId: outcome.awsAccountId,
      arn: outcome.arn,
      error: jsonOrNull(outcome.error),
    }) as Row | undefined;
    return row ? accountFromRow(row) : null;
  }

  // Delegate identities

  async recordDelegateIdentity(identity: DelegateIdentityRecord): Promise<void> {
    this.q.upsertIdentity.run({ ...identity, reportedAt: ms(identity.reportedAt) });
  }

  async listDelegateIdentities(tenantId: string): Promise<DelegateIdentityRecord[]> {
    return (this.q.listIdentities.all(tenantId) as Row[]).map(identityFromRow);
  }

  async recordGroupKeys(tenantId: string, group: string, keys: ReadonlyArray<{ keyId: string; algorithm: string; publicKey: string }>, at: Date): Promise<GroupKeyRecord[]> {
    if (keys.length === 0) return [];
    return this.db.transaction(() => {
      const known = this.q.groupKeyTrust.all(tenantId, group) as Row[];
      const trusted = known.filter((r) => r.trusted === 1).map((r) => r.key_id as string);
      // Trust on first use only for a group with no keys at all (see the PostgreSQL store).
      const trust = known.length === 0 || keys.some((k) => trusted.includes(k.keyId)) ? 1 : 0;
      return keys.map((k, i) =>
        groupKeyFromRow(this.q.upsertGroupKey.get({ tenantId, group, ...k, at: ms(at), currentAt: i === 0 ? ms(at) : null, trusted: trust }) as Row),
      );
    })();
  }

  async setGroupKeyTrust(tenantId: string, group: string, keyId: string, trusted: boolean): Promise<GroupKeyRecord | null> {
    const row = this.q.setGroupKeyTrust.get(trusted ? 1 : 0, tenantId, group, keyId) as Row | undefined;
    return row ? groupKeyFromRow(row) : null;
  }

  async listGroupKeys(tenantId: string, group: string): Promise<GroupKeyRecord[]> {
    return (this.q.listGroupKeys.all(tenantId, group) as Row[]).map(groupKeyFromRow);
  }
}
