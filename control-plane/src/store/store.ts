import type { FirstApiKey, UserRecord } from './identity-records.js';
import type { IdentityStore } from './identity-store.js';
import type { OidcStore } from './oidc-store.js';
import type { AuditStore } from './audit-records.js';
import type {
  AwsAccountRecord,
  DelegateIdentityRecord,
  DelegateRecord,
  DelegateStatus,
  DelegateToken,
  GroupKeyRecord,
  OpenTaskUsage,
  TaskError,
  TaskRecord,
  TaskState,
  NewTenant,
  Tenant,
} from './records.js';

export * from './records.js';
export * from './identity-records.js';
export * from './audit-records.js';
export type { IdentityStore, ListTenantsQuery } from './identity-store.js';
export type { CliBinding, CliCodeRecord, OidcConfigRecord, OidcLoginRecord, OidcStore } from './oidc-store.js';

/** The delegate a claim is made for: what it carries decides which tasks it may take. */
export interface ClaimingDelegate {
  id: string;
  tenantId: string;
  /** All tags, including the delegate's own name. */
  tags: readonly string[];
  taskTypes: readonly string[];
}

/** A claim: who takes the task, and the lease it holds until the delegate answers Accepted. */
export interface Claim {
  delegate: ClaimingDelegate;
  now: Date;
  leaseExpiresAt: Date;
}

/** A claim of one named task (placement of a new task on a chosen delegate). */
export interface ClaimTask extends Claim {
  taskId: string;
}

/** The fence of a delegate-driven change: the attempt, held by this delegate. */
export interface HeldAttempt {
  taskId: string;
  attempt: number;
  delegateId: string;
}

/** assigned → running: the delegate accepted; its lease now runs on heartbeats. */
export interface MarkRunning extends HeldAttempt {
  now: Date;
  leaseExpiresAt: Date;
}

/** The delegate's result for the attempt it holds. */
export interface CompleteTask extends HeldAttempt {
  outcome: TaskOutcome;
  now: Date;
  /**
   * When the delegate accepted the attempt, for a task that ends before its `running` was written
   * (the dispatcher writes it only for attempts that outlast a short delay): kept as started_at
   * unless the row already has one.
   */
  startedAt?: Date | undefined;
}

/** An attempt was lost (no Accepted, lease passed, connection gone): fenced by attempt alone. */
export interface RequeueTask {
  taskId: string;
  attempt: number;
  now: Date;
  /** The error the task ends with when this was its last attempt. */
  exhaustedError: TaskError;
}

/** Ends a task from outside the delegate: cancel, queue expiry, run timeout. */
export interface FinishTask {
  tenantId: string;
  taskId: string;
  /** The states it may be in; in any other, nothing happens and the answer is null. */
  fromStates: readonly TaskState[];
  state: 'failed' | 'cancelled' | 'expired';
  error: TaskError;
  now: Date;
  /** When given, only this attempt (a run timeout must not end the next attempt). */
  attempt?: number;
}

export interface ListTasksQuery {
  state?: TaskState;
  type?: string;
  /** Newest first; at most this many. */
  limit: number;
  /** Only tasks created strictly before this one (cursor pagination by id order). */
  beforeId?: string;
}

/**
 * Keyset pagination in a list's own order (name then id, or creation time then id): at most `limit`
 * rows strictly after the row `after` describes. Without a page, the whole list.
 */
export interface ListPage<K extends string | Date> {
  limit: number;
  after?: { key: K; id: string } | undefined;
}

export interface QueueGroupStats {
  selectors: string[];
  type: string;
  queued: number;
  oldestQueuedAt: Date;
}

export interface GlobalTaskStats {
  /** Count of tasks per (type, state). */
  byTypeAndState: Array<{ type: string; state: TaskState; count: number }>;
  queued: number;
  oldestQueuedAt: Date | null;
}

export type TaskOutcome =
  | { state: 'succeeded'; result: Record<string, unknown> }
  | { state: 'failed'; error: TaskError };

export type AccountPatch = Partial<
  Pick<AwsAccountRecord, 'name' | 'description' | 'partition' | 'auth' | 'testRegion' | 'delegateSelectors' | 'endpoints' | 'gateway' | 'policyArns'>
>;

export interface ValidationOutcome {
  status: 'valid' | 'invalid';
  checkedAt: Date;
  awsAccountId: string | null;
  arn: string | null;
  error: TaskError | null;
}

/**
 * Everything the control plane persists. Implementations: SQLite (embedded default) and, later,
 * PostgreSQL. All of them must pass `runStoreConformance` (store/conformance.ts).
 *
 * The task methods that change state are each one atomic step, and all of them are fenced: they
 * name the state (and, for delegate-driven changes, the attempt and delegate) they expect, and
 * return `null` when the task is no longer in it. Two callers racing for the same task therefore
 * never both succeed, even across control-plane replicas.
 */
export interface Store {
  readonly kind: string;
  /** Creates or upgrades the schema; safe to call on every start. */
  migrate(): Promise<void>;
  /** Throws when the backend cannot serve requests (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Users, sessions, API keys, sign-in throttling and the operator's view of tenants. */
  readonly identity: IdentityStore;
  /** Tenants' OpenID Connect providers and the sign-ins in progress. */
  readonly oidc: OidcStore;

  /** The tenants' audit trails: append, list, and retention's delete. */
  readonly audit: AuditStore;

  // Tenants and keys
  /** The tenant with its first (admin) API key and, when given, its first admin user: all or nothing. */
  createTenant(tenant: NewTenant, apiKey: FirstApiKey, admin?: UserRecord): Promise<void>;
  getTenant(id: string): Promise<Tenant | null>;

  // Delegate tokens
  createDelegateToken(token: DelegateToken): Promise<void>;
  /** Oldest first (creation time, then id). */
  listDelegateTokens(tenantId: string, page?: ListPage<Date>): Promise<DelegateToken[]>;
  findDelegateTokenByHash(hash: string): Promise<DelegateToken | null>;
  /** Marks the token revoked (idempotent); null when the tenant has no such token. */
  revokeDelegateToken(tenantId: string, id: string, at: Date): Promise<DelegateToken | null>;
  /** Whether a non-revoked token of the tenant is bound to this delegate group (which then belongs to such tokens). */
  isDelegateGroupBound(tenantId: string, group: string): Promise<boolean>;

  // Delegates (presence)
  /** Inserts or replaces the delegate row keyed by id. */
  upsertDelegate(delegate: DelegateRecord): Promise<void>;
  updateDelegatePresence(
    id: string,
    patch: { status?: DelegateStatus; inFlight?: number; lastHeartbeatAt?: Date; disconnectedAt?: Date | null },
  ): Promise<void>;
  /** Connected and draining delegates, and those disconnected at or after `disconnectedSince`; by name, then id. */
  listDelegates(tenantId: string, disconnectedSince: Date, page?: ListPage<string>): Promise<DelegateRecord[]>;
  /**
   * Marks the delegate disconnected if `sessionId` is still its connection. False when a newer
   * connection has replaced it (or the delegate is unknown): the newer one owns the delegate's
   * presence and tasks, and the caller must leave both alone.
   */
  endDelegateSession(id: string, sessionId: string, at: Date): Promise<boolean>;
  /** Marks every delegate held by `replicaId` disconnected (used when a replica starts or stops). */
  disconnectReplicaDelegates(replicaId: string, at: Date): Promise<void>;
  /** Names of the tenant's delegates among `ids` (task views name the delegate that ran them); unknown ids are absent. */
  delegateNames(tenantId: string, ids: readonly string[]): Promise<Map<string, string>>;
  /** The tenant's delegates not disconnected, other than `exceptId` (a reconnecting instance). */
  countConnectedDelegates(tenantId: string, exceptId: string): Promise<number>;
  /** Per status and transport, over all tenants (metrics). */
  countDelegates(): Promise<Array<{ status: DelegateStatus; transport: string; count: number }>>;
  /** Delegates not disconnected, per reported version, over all tenants (metrics). */
  countConnectedDelegatesByVersion(): Promise<Array<{ version: string; count: number }>>;

  // Tasks
  insertTask(task: TaskRecord): Promise<void>;
  /** Inserts every task or none (one transaction): a conflict on any id rejects them all. */
  createTasks(tasks: readonly TaskRecord[]): Promise<void>;
  getTask(tenantId: string, id: string): Promise<TaskRecord | null>;
  listTasks(tenantId: string, query: ListTasksQuery): Promise<TaskRecord[]>;
  /**
   * queued → assigned for this one task, if the delegate is eligible for it (tags and type).
   * The task's attempt does not change.
   */
  claimTask(claim: ClaimTask): Promise<TaskRecord | null>;
  /**
   * queued → assigned for the best queued task of the delegate's tenant it is eligible for
   * (highest priority, then oldest queuedAt). One atomic step.
   */
  claimNext(claim: Claim): Promise<TaskRecord | null>;
  /**
   * claimNext for up to `limit` tasks at once (a delegate's free slots), in queue order: best
   * priority, then oldest. Each is claimed as claimNext claims one; fewer (or none) when fewer qualify.
   */
  claimQueued(claim: Claim, limit: number): Promise<TaskRecord[]>;
  /** assigned → running, fenced by attempt and delegate. */
  markRunning(step: MarkRunning): Promise<TaskRecord | null>;
  /** assigned|running → succeeded|failed, fenced by attempt and delegate. */
  completeTask(step: CompleteTask): Promise<TaskRecord | null>;
  /**
   * assigned|running → queued with attempt + 1, fenced by attempt; when the task has used
   * `maxAttempts`, → failed with `exhaustedError` instead.
   */
  requeueTask(step: RequeueTask): Promise<TaskRecord | null>;
  /**
   * Extends the leases of those of `taskIds` that are assigned to or running on the delegate. Only
   * the attempts a connection actually holds are extended: an attempt handed out on a connection
   * that has since been replaced must be left to expire.
   */
  extendLeases(delegateId: string, taskIds: readonly string[], leaseExpiresAt: Date): Promise<void>;
  /** Active tasks (assigned|running) currently held by the delegate. */
  listActiveTasksOfDelegate(delegateId: string): Promise<TaskRecord[]>;
  /** Active tasks whose lease ended before `now`. */
  listExpiredLeases(now: Date, limit: number): Promise<TaskRecord[]>;
  /** Queued tasks whose queue timeout passed before `now`. */
  listQueueTimedOut(now: Date, limit: number): Promise<TaskRecord[]>;
  /** Running tasks whose run timeout (from startedAt, or assignedAt) passed before `now`. */
  listRunTimedOut(now: Date, limit: number): Promise<TaskRecord[]>;
  /**
   * Ends a task that is in one of `fromStates` (and, when given, at `attempt`) with `state` and
   * `error`. Used for cancel, queue expiry and run timeouts. Null when it was in none of them.
   */
  finishTask(step: FinishTask): Promise<TaskRecord | null>;
  /**
   * The tenant's tasks that have not ended and the sum of their payloadBytes, read from an index
   * over exactly those rows, so the quota check on every create stays cheap.
   */
  openTaskUsage(tenantId: string): Promise<OpenTaskUsage>;
  /**
   * Deletes at most `limit` ended tasks (any tenant) that ended before `endedBefore`, oldest first,
   * in one statement; returns how many went. A task's result, error and attempts live in its row,
   * so nothing else is left behind.
   */
  deleteEndedTasks(endedBefore: Date, limit: number): Promise<number>;
  queueStats(tenantId: string): Promise<QueueGroupStats[]>;
  globalTaskStats(): Promise<GlobalTaskStats>;

  // AWS accounts
  createAccount(account: AwsAccountRecord): Promise<void>;
  getAccount(tenantId: string, id: string): Promise<AwsAccountRecord | null>;
  /** By name, then id. */
  listAccounts(tenantId: string, page?: ListPage<string>): Promise<AwsAccountRecord[]>;
  updateAccount(tenantId: string, id: string, patch: AccountPatch, now: Date): Promise<AwsAccountRecord | null>;
  deleteAccount(tenantId: string, id: string): Promise<boolean>;
  /** Marks a validation as started (status validating, lastTaskId). */
  startValidation(tenantId: string, id: string, taskId: string, now: Date): Promise<AwsAccountRecord | null>;
  /** Records the outcome of the validation task `taskId`, unless a newer validation has started. */
  recordValidation(tenantId: string, id: string, taskId: string, outcome: ValidationOutcome): Promise<AwsAccountRecord | null>;

  // Delegate identities (role setup)
  /** Inserts or replaces the identity of (tenant, group, partition), unless the stored one is newer. */
  recordDelegateIdentity(identity: DelegateIdentityRecord): Promise<void>;
  /** The tenant's reported identities, by group then partition. */
  listDelegateIdentities(tenantId: string): Promise<DelegateIdentityRecord[]>;

  // Delegate group keys (sealed values)
  /**
   * Records the keys a delegate of `group` announced at `at` (and proved it holds), the first being
   * its current one: inserts new keys, moves lastSeenAt (and lastCurrentAt of the first) forward,
   * never back. Trust (see GroupKeyRecord.trusted) is decided in the same step, one group at a time,
   * and never taken away here. Returns the announced keys as recorded.
   */
  recordGroupKeys(tenantId: string, group: string, keys: ReadonlyArray<{ keyId: string; algorithm: string; publicKey: string }>, at: Date): Promise<GroupKeyRecord[]>;
  /**
   * A tenant admin vouches for a key (`trusted` true) or withdraws trust (false); null when the
   * group has no such key. A group with keys but none trusted trusts nothing new by itself.
   */
  setGroupKeyTrust(tenantId: string, group: string, keyId: string, trusted: boolean): Promise<GroupKeyRecord | null>;
  /** The group's keys, the most recently current first. */
  listGroupKeys(tenantId: string, group: string): Promise<GroupKeyRecord[]>;
}
