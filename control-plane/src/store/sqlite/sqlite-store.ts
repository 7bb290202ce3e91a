import Database from 'better-sqlite3';
import type {
  AccountPatch,
  Claim,
  ClaimTask,
  CompleteTask,
  FinishTask,
  FirstApiKey,
  MarkRunning,
  NewTenant,
  RequeueTask,
  UserRecord,
  AwsAccountRecord,
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
import { INITIAL_KEY_NAME } from '../identity-records.js';
import { conflicting } from './conflicts.js';
import { DelegateNameCache } from '../delegate-name-cache.js';
import { normalizeSelectors, outcomeColumns, trustsAnnouncedKeys } from '../rules.js';
import { ClaimBatch } from './claim-batch.js';
import { GroupCommit, prepareEach, readStatements, type Writer } from './group-commit.js';
import { READS, WRITES } from './queries.js';

type Reads = Record<keyof typeof READS, Database.Statement>;
type Writes = Record<keyof typeof WRITES, Database.Statement>;
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
  /**
   * Called with every statement SQLite runs, as it runs it (better-sqlite3's `verbose`): for
   * diagnosis and for the tests that count durable writes. Off by default.
   */
  trace?: (sql: string) => void;
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

const { tenantFromRow, tokenFromRow, delegateFromRow, taskFromRow, accountFromRow, identityFromRow, groupKeyFromRow } = rowMappers({
  date: (v) => new Date(v as number),
  json: <T>(v: unknown) => JSON.parse(v as string) as T,
});

/** A claim's named parameters: tags and types travel as JSON arrays (see queries.ts, ELIGIBLE). */
const claimParams = (claim: Claim) => ({
  delegateId: claim.delegate.id,
  tenantId: claim.delegate.tenantId,
  tags: json(claim.delegate.tags),
  taskTypes: json(claim.delegate.taskTypes),
  now: ms(claim.now),
  lease: ms(claim.leaseExpiresAt),
});

/**
 * The embedded Store: one better-sqlite3 connection, WAL. better-sqlite3 is synchronous, so every
 * method runs to completion before another can start in this process; the async signatures only
 * match the Store contract. Every write joins the group commit (group-commit.ts): its statements
 * are reachable only there. Multi-statement steps run in a savepoint of that transaction, so a
 * failed step leaves the rest of the batch alone.
 */
export class SqliteStore implements Store {
  readonly kind = 'sqlite';
  readonly identity: SqliteIdentityStore;
  readonly oidc: SqliteOidcStore;
  readonly audit: SqliteAuditStore;
  private readonly commit: GroupCommit;
  private readonly writer: Writer<Writes>;
  /** Statements need the tables, so they are prepared on first use rather than in open(). */
  private readonly reads: () => Reads;
  private readonly claims: ClaimBatch;

  private readonly names = new DelegateNameCache((tenantId, ids) => {
    const rows = this.q.delegateNames.all(tenantId, JSON.stringify(ids)) as Array<{ id: string; name: string }>;
    return new Map(rows.map((r) => [r.id, r.name]));
  });

  private constructor(private readonly db: Database.Database) {
    this.commit = new GroupCommit(db);
    this.writer = this.commit.writer(() => prepareEach(db, WRITES));
    this.reads = readStatements(() => prepareEach(db, READS));
    this.claims = new ClaimBatch(this.commit, { next: () => this.q.nextEligibleMany, writer: this.writer, toTask: taskFromRow, json });
    this.identity = new SqliteIdentityStore(db, this.commit);
    this.oidc = new SqliteOidcStore(db, this.commit);
    this.audit = new SqliteAuditStore(db, this.commit);
  }

  static open(opts: SqliteStoreOptions): SqliteStore {
    const db = new Database(opts.path, opts.trace ? { verbose: (sql) => opts.trace!(String(sql)) } : {});
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

  private get q(): Reads {
    return this.reads();
  }

  async migrate(): Promise<void> {
    migrate(this.db);
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    this.commit.flush();
    if (this.db.open) this.db.close();
  }

  // Tenants and keys

  createTenant(tenant: NewTenant, apiKey: FirstApiKey, admin?: UserRecord): Promise<void> {
    return this.writer.run((w) => {
      conflicting('tenant or API key', () =>
        this.db
          .transaction(() => {
            w.insertTenant.run(tenant.id, tenant.name, tenant.externalId, ms(tenant.createdAt));
            w.insertApiKey.run(apiKey.id, apiKey.tenantId, apiKey.hash, ms(apiKey.createdAt), INITIAL_KEY_NAME, apiKey.prefix ?? 'atk_');
            if (admin) this.identity.insertUserNow(admin);
          })
          .immediate(),
      );
    });
  }

  async getTenant(id: string): Promise<Tenant | null> {
    const row = this.q.getTenant.get(id) as Row | undefined;
    return row ? tenantFromRow(row) : null;
  }

  // Delegate tokens

  createDelegateToken(token: DelegateToken): Promise<void> {
    return this.writer.run((w) => {
      conflicting('delegate token', () =>
        w.insertToken.run(
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
    });
  }

  async listDelegateTokens(tenantId: string, page?: ListPage<Date>): Promise<DelegateToken[]> {
    return (this.q.listTokens.all({ tenantId, ...pageParams(page, ms) }) as Row[]).map(tokenFromRow);
  }

  async findDelegateTokenByHash(hash: string): Promise<DelegateToken | null> {
    const row = this.q.tokenByHash.get(hash) as Row | undefined;
    return row ? tokenFromRow(row) : null;
  }

  revokeDelegateToken(tenantId: string, id: string, at: Date): Promise<DelegateToken | null> {
    return this.writer.run((w) => {
      const row = w.revokeToken.get(ms(at), tenantId, id) as Row | undefined;
      return row ? tokenFromRow(row) : null;
    });
  }

  async isDelegateGroupBound(tenantId: string, group: string): Promise<boolean> {
    return this.q.groupBound.get(tenantId, group) !== undefined;
  }

  // Delegates

  upsertDelegate(d: DelegateRecord): Promise<void> {
    return this.writer.run((w) => {
      w.upsertDelegate.run({
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
    });
  }

  endDelegateSession(id: string, sessionId: string, at: Date): Promise<boolean> {
    return this.writer.run((w) => w.endSession.run(ms(at), id, sessionId).changes > 0);
  }

  updateDelegatePresence(
    id: string,
    patch: { status?: DelegateStatus; inFlight?: number; lastHeartbeatAt?: Date; disconnectedAt?: Date | null },
  ): Promise<void> {
    return this.writer.run((w) => {
      w.updatePresence.run({
        id,
        status: patch.status ?? null,
        inFlight: patch.inFlight ?? null,
        lastHeartbeatAt: msOrNull(patch.lastHeartbeatAt),
        // `null` clears the field (reconnect) while `undefined` leaves it: hence the separate flag.
        setDisconnectedAt: patch.disconnectedAt === undefined ? 0 : 1,
        disconnectedAt: msOrNull(patch.disconnectedAt),
      });
    });
  }

  async listDelegates(tenantId: string, disconnectedSince: Date, page?: ListPage<string>): Promise<DelegateRecord[]> {
    return (this.q.listDelegates.all({ tenantId, since: ms(disconnectedSince), ...pageParams(page, String) }) as Row[]).map(delegateFromRow);
  }

  delegateNames(tenantId: string, ids: readonly string[]): Promise<Map<string, string>> {
    return this.names.get(tenantId, ids);
  }

  disconnectReplicaDelegates(replicaId: string, at: Date): Promise<void> {
    return this.writer.run((w) => {
      w.disconnectReplica.run(ms(at), replicaId);
    });
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

  insertTask(t: TaskRecord): Promise<void> {
    return this.writer.run((w) => {
      conflicting('task', () => insertTaskRow(w, t));
    });
  }

  createTasks(tasks: readonly TaskRecord[]): Promise<void> {
    // Inside the group commit's transaction better-sqlite3 makes this a savepoint: a conflict rolls
    // back this batch only, not the other writes of the turn.
    return this.writer.run((w) => {
      conflicting('task', () => this.db.transaction(() => tasks.forEach((t) => insertTaskRow(w, t)))());
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

  claimTask(claim: ClaimTask): Promise<TaskRecord | null> {
    return this.writer.run((w) => {
      const row = w.claimTask.get({ taskId: claim.taskId, ...claimParams(claim) }) as Row | undefined;
      return row ? taskFromRow(row) : null;
    });
  }

  async claimNext(claim: Claim): Promise<TaskRecord | null> {
    return (await this.claimQueued(claim, 1))[0] ?? null;
  }

  claimQueued(claim: Claim, limit: number): Promise<TaskRecord[]> {
    // The claims of one turn share one read and one fenced UPDATE per eligibility (claim-batch.ts).
    return this.claims.claim(claim, limit);
  }

  markRunning(step: MarkRunning): Promise<TaskRecord | null> {
    return this.writer.run((w) => {
      const { taskId, attempt, delegateId } = step;
      const row = w.markRunning.get({ taskId, attempt, delegateId, now: ms(step.now), lease: ms(step.leaseExpiresAt) }) as Row | undefined;
      return row ? taskFromRow(row) : null;
    });
  }

  completeTask(step: CompleteTask): Promise<TaskRecord | null> {
    return this.writer.run((w) => {
      const { result, error } = outcomeColumns(step.outcome);
      const row = w.completeTask.get({
        taskId: step.taskId,
        attempt: step.attempt,
        delegateId: step.delegateId,
        state: step.outcome.state,
        result: jsonOrNull(result),
        error: jsonOrNull(error),
        now: ms(step.now),
        startedAt: step.startedAt ? ms(step.startedAt) : null,
      }) as Row | undefined;
      return row ? taskFromRow(row) : null;
    });
  }

  requeueTask(step: RequeueTask): Promise<TaskRecord | null> {
    return this.writer.run((w) => {
      const row = w.requeue.get({ taskId: step.taskId, attempt: step.attempt, now: ms(step.now), error: json(step.exhaustedError) }) as Row | undefined;
      return row ? taskFromRow(row) : null;
    });
  }

  extendLeases(delegateId: string, taskIds: readonly string[], leaseExpiresAt: Date): Promise<void> {
    if (taskIds.length === 0) return Promise.resolve();
    return this.writer.run((w) => {
      w.extendLeases.run(ms(leaseExpiresAt), json(taskIds), delegateId);
    });
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

  finishTask(step: FinishTask): Promise<TaskRecord | null> {
    return this.writer.run((w) => {
      const row = w.finishTask.get({
        tenantId: step.tenantId,
        taskId: step.taskId,
        fromStates: json(step.fromStates),
        state: step.state,
        error: json(step.error),
        now: ms(step.now),
        attempt: step.attempt ?? null,
      }) as Row | undefined;
      return row ? taskFromRow(row) : null;
    });
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

  deleteEndedTasks(endedBefore: Date, limit: number): Promise<number> {
    return this.writer.run((w) => w.deleteEnded.run(ms(endedBefore), Math.max(0, Math.trunc(limit))).changes);
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

  createAccount(a: AwsAccountRecord): Promise<void> {
    return this.writer.run((w) => {
      conflicting(`account "${a.name}"`, () =>
        w.insertAccount.run({
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
    });
  }

  async getAccount(tenantId: string, id: string): Promise<AwsAccountRecord | null> {
    const row = this.q.getAccount.get(tenantId, id) as Row | undefined;
    return row ? accountFromRow(row) : null;
  }

  async listAccounts(tenantId: string, page?: ListPage<string>): Promise<AwsAccountRecord[]> {
    return (this.q.listAccounts.all({ tenantId, ...pageParams(page, String) }) as Row[]).map(accountFromRow);
  }

  updateAccount(tenantId: string, id: string, patch: AccountPatch, now: Date): Promise<AwsAccountRecord | null> {
    return this.writer.run((w) => {
      const row = conflicting(`account "${patch.name ?? id}"`, () =>
        w.updateAccount.get({
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
    });
  }

  deleteAccount(tenantId: string, id: string): Promise<boolean> {
    return this.writer.run((w) => w.deleteAccount.run(tenantId, id).changes > 0);
  }

  startValidation(tenantId: string, id: string, taskId: string, now: Date): Promise<AwsAccountRecord | null> {
    return this.writer.run((w) => {
      const row = w.startValidation.get({ tenantId, id, taskId, now: ms(now) }) as Row | undefined;
      return row ? accountFromRow(row) : null;
    });
  }

  recordValidation(tenantId: string, id: string, taskId: string, outcome: ValidationOutcome): Promise<AwsAccountRecord | null> {
    return this.writer.run((w) => {
      const row = w.recordValidation.get({
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
    });
  }

  // Delegate identities

  recordDelegateIdentity(identity: DelegateIdentityRecord): Promise<void> {
    return this.writer.run((w) => {
      w.upsertIdentity.run({ ...identity, reportedAt: ms(identity.reportedAt) });
    });
  }

  async listDelegateIdentities(tenantId: string): Promise<DelegateIdentityRecord[]> {
    return (this.q.listIdentities.all(tenantId) as Row[]).map(identityFromRow);
  }

  recordGroupKeys(tenantId: string, group: string, keys: ReadonlyArray<{ keyId: string; algorithm: string; publicKey: string }>, at: Date): Promise<GroupKeyRecord[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return this.writer.run((w) =>
      // A savepoint: the trust read and the upserts are one step, which a failure undoes whole.
      this.db.transaction(() => {
        const known = (this.q.groupKeyTrust.all(tenantId, group) as Row[]).map((r) => ({ keyId: r.key_id as string, trusted: r.trusted === 1 }));
        const trusted = trustsAnnouncedKeys(known, keys) ? 1 : 0;
        return keys.map((k, i) =>
          groupKeyFromRow(w.upsertGroupKey.get({ tenantId, group, ...k, at: ms(at), currentAt: i === 0 ? ms(at) : null, trusted }) as Row),
        );
      })(),
    );
  }

  setGroupKeyTrust(tenantId: string, group: string, keyId: string, trusted: boolean): Promise<GroupKeyRecord | null> {
    return this.writer.run((w) => {
      const row = w.setGroupKeyTrust.get(trusted ? 1 : 0, tenantId, group, keyId) as Row | undefined;
      return row ? groupKeyFromRow(row) : null;
    });
  }

  async listGroupKeys(tenantId: string, group: string): Promise<GroupKeyRecord[]> {
    return (this.q.listGroupKeys.all(tenantId, group) as Row[]).map(groupKeyFromRow);
  }
}

function insertTaskRow(w: Writes, t: TaskRecord): void {
  w.insertTask.run({
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
