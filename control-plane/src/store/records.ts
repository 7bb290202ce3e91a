import type { ActorRecord } from './audit-records.js';
/**
 * The records the control plane persists. Every record that belongs to a tenant carries `tenantId`,
 * and every Store method that reads or changes tenant data takes the tenant explicitly: isolation is
 * part of each query, not a filter applied afterwards.
 *
 * Times are `Date`s; JSON-shaped fields are plain objects. Nothing here ever holds a secret value:
 * API keys and delegate tokens are stored as SHA-256 hashes, AWS auth as secret *references*.
 */

import type { TenantStatus } from './identity-records.js';

export type TaskState = 'queued' | 'assigned' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired';

export const TERMINAL_STATES: readonly TaskState[] = ['succeeded', 'failed', 'cancelled', 'expired'];
export const ACTIVE_STATES: readonly TaskState[] = ['assigned', 'running'];

export function isTerminal(state: TaskState): boolean {
  return TERMINAL_STATES.includes(state);
}

export interface Tenant {
  id: string;
  name: string;
  /** The external ID every assumed role of this tenant must require (random, stable). */
  externalId: string;
  createdAt: Date;
  /** A suspended tenant's keys, sessions and delegates are refused (TENANT_SUSPENDED). */
  status: TenantStatus;
  suspendedAt: Date | null;
}

/** A tenant as created: always active. */
export type NewTenant = Omit<Tenant, 'status' | 'suspendedAt'>;

export interface DelegateToken {
  id: string;
  tenantId: string;
  name: string;
  hash: string;
  createdAt: Date;
  revokedAt: Date | null;
  /** The only delegate group this token registers as; null when it is not bound to a group. */
  group: string | null;
  /** The only tags its delegates may declare (their name and key tags aside); null when any are allowed. */
  tags: string[] | null;
}

export type DelegateStatus = 'connected' | 'draining' | 'disconnected';

export interface DelegateRecord {
  id: string;
  tenantId: string;
  tokenId: string;
  name: string;
  instanceId: string;
  tags: string[];
  taskTypes: string[];
  maxConcurrency: number;
  version: string;
  transport: string;
  status: DelegateStatus;
  inFlight: number;
  /** Which control-plane replica holds the connection. */
  replicaId: string;
  /**
   * The connection itself. A newer connection of the same delegate (after a reconnect, on this
   * replica or another) replaces it; the older one then no longer owns the delegate's presence or
   * its tasks.
   */
  sessionId: string;
  connectedAt: Date;
  lastHeartbeatAt: Date;
  disconnectedAt: Date | null;
  /** The policy the delegate reported in Hello (its own configuration); null if it reported none. */
  policy: DelegatePolicyRecord | null;
}

/** A delegate's policy as it reported it: reference patterns, allowed origins, their digest. */
export interface DelegatePolicyRecord {
  digest: string;
  allowRefs: string[];
  allowEndpoints: string[];
}

export interface TaskError {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

export interface TaskRecord {
  id: string;
  tenantId: string;
  type: string;
  /** The payload as the API accepted it (JSON form of the task type's payload message). */
  payload: Record<string, unknown>;
  /** Tags a delegate must all carry; kept sorted and de-duplicated. */
  selectors: string[];
  priority: number;
  state: TaskState;
  /** 1 for the first attempt; a requeue increments it. Results are fenced by it. */
  attempt: number;
  maxAttempts: number;
  delegateId: string | null;
  queueTimeoutSeconds: number;
  runTimeoutSeconds: number;
  result: Record<string, unknown> | null;
  error: TaskError | null;
  /** The AWS account whose validation this task is, if any. */
  accountId: string | null;
  /** Who asked for it (the API caller), so the audit trail records its end against them; null for internal tasks. */
  requestedBy: ActorRecord | null;
  createdAt: Date;
  /** When the task (re-)entered the queue; queue timeouts run from here. */
  queuedAt: Date;
  assignedAt: Date | null;
  startedAt: Date | null;
  endedAt: Date | null;
  /** An assigned or running task whose lease passes goes back to the queue. */
  leaseExpiresAt: Date | null;
}

/**
 * What a task's payload weighs against its tenant's queued-payload quota: the UTF-8 bytes of its
 * JSON text, as the stores keep it. Both stores record it at insert and the quota check adds the
 * next task's with this same function.
 */
export function payloadBytes(payload: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(payload), 'utf8');
}

/** A tenant's tasks that have not ended yet (queued, assigned or running): what quotas count. */
export interface OpenTaskUsage {
  tasks: number;
  payloadBytes: number;
}

export type AccountStatus = 'unvalidated' | 'validating' | 'valid' | 'invalid';

export interface AwsAccountRecord {
  id: string;
  tenantId: string;
  name: string;
  description: string;
  partition: string;
  /** Auth description with secret references only (validated at the API edge). */
  auth: Record<string, unknown>;
  testRegion: string;
  delegateSelectors: string[];
  endpoints: Record<string, string>;
  /**
   * The delegate group (delegate name) that runs this account's tasks, like a Private Cloud
   * Gateway; null means any delegate carrying `delegateSelectors`. Every delegate is tagged with its
   * group name, so pinning is one more selector.
   */
  gateway: string | null;
  /** IAM policy ARNs the tenant chose for this account ("Add IAM Policies"); form and partition checked. */
  policyArns: string[];
  status: AccountStatus;
  lastTaskId: string | null;
  lastCheckedAt: Date | null;
  awsAccountId: string | null;
  arn: string | null;
  lastError: TaskError | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * The IAM identity a delegate group runs as, as reported by the last successful validation with the
 * delegate's own credentials on one of its delegates. Role setup names it as the trust policy's
 * principal. One per (tenant, group, partition): a group can reach more than one partition.
 */
/**
 * A delegate group's public key for sealed values, as its delegates announce it in Hello. Keyed by
 * (tenant, group, key id); the key id is checked against the key at Hello.
 */
export interface GroupKeyRecord {
  tenantId: string;
  group: string;
  keyId: string;
  algorithm: string;
  /** Raw public key, base64url. */
  publicKey: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
  /** Last time a delegate announced it as its current (first) key; null if only ever as an older one. */
  lastCurrentAt: Date | null;
  /**
   * Whether clients may be told to seal to it. The keys that open a group (the first recorded for
   * it) are trusted, and so is every key announced together with a trusted one (rotation: the new
   * key travels with the old); a key announced without any trusted one (a stolen token presenting
   * its own key under the group's name) waits for a tenant admin, who can also withdraw trust. Only
   * a trusted key can be the group's current key.
   */
  trusted: boolean;
}

export interface DelegateIdentityRecord {
  tenantId: string;
  /** The delegate group, i.e. the delegate name. */
  group: string;
  partition: string;
  /** The caller ARN sts:GetCallerIdentity returned (a user, or an assumed-role session). */
  arn: string;
  awsAccountId: string;
  /** The validation task that reported it. */
  taskId: string;
  reportedAt: Date;
}
