import { z } from 'zod';
import { authSchema } from '../aws/account-schema.js';
import { caBundleOf, endpointOverrides } from '../aws/connection.js';
import { PARTITION_NAMES, type Partition } from '../aws/partitions.js';
import type { AwsAccountRecord, DelegateRecord, DelegateToken, TaskRecord } from '../store/store.js';

/**
 * API representations. Built field by field so nothing stored (hashes) leaks by accident; each has
 * a zod schema that the builder's return type is checked against, and that the OpenAPI document
 * publishes (an `id` names it there).
 */
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

const time = z.iso.datetime();
const timeOrNull = time.nullable();

export const taskErrorSchema = z
  .object({
    code: z.string().meta({ description: 'A control-plane code (see Error) or one a delegate reported, such as INVALID_CREDENTIALS.' }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'TaskError' });

export const TASK_STATES = ['queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled', 'expired'] as const;

export const taskViewSchema = z
  .object({
    id: z.string(),
    type: z.string(),
    state: z.enum(TASK_STATES),
    attempt: z.number().int(),
    maxAttempts: z.number().int(),
    selectors: z.array(z.string()),
    priority: z.number().int(),
    payload: z.record(z.string(), z.unknown()),
    delegate: z
      .object({ id: z.string(), name: z.string().nullable().meta({ description: 'The delegate group name; null only if its record is gone.' }) })
      .nullable()
      .meta({ description: 'The delegate that holds or ran the current attempt; null while queued.' }),
    delegateId: z.string().nullable().meta({ description: 'Same as delegate.id; kept for clients written before `delegate`.', deprecated: true }),
    accountId: z.string().nullable(),
    queueTimeoutSeconds: z.number().int(),
    runTimeoutSeconds: z.number().int(),
    result: z.record(z.string(), z.unknown()).nullable(),
    error: taskErrorSchema.nullable(),
    createdAt: time,
    queuedAt: time,
    assignedAt: timeOrNull,
    startedAt: timeOrNull,
    endedAt: timeOrNull,
  })
  .meta({ id: 'Task' });
export type TaskView = z.output<typeof taskViewSchema>;

/** `delegateName` is the name of `t.delegateId`'s delegate, looked up by the caller (see task-views.ts). */
export const taskView = (t: TaskRecord, delegateName: string | null = null): TaskView => ({
  id: t.id,
  type: t.type,
  state: t.state,
  attempt: t.attempt,
  maxAttempts: t.maxAttempts,
  selectors: t.selectors,
  priority: t.priority,
  payload: t.payload,
  delegate: t.delegateId ? { id: t.delegateId, name: delegateName } : null,
  delegateId: t.delegateId,
  accountId: t.accountId,
  queueTimeoutSeconds: t.queueTimeoutSeconds,
  runTimeoutSeconds: t.runTimeoutSeconds,
  result: t.result,
  error: t.error,
  createdAt: t.createdAt.toISOString(),
  queuedAt: t.queuedAt.toISOString(),
  assignedAt: iso(t.assignedAt),
  startedAt: iso(t.startedAt),
  endedAt: iso(t.endedAt),
});

export const tokenViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    createdAt: time,
    revokedAt: timeOrNull,
    status: z.enum(['active', 'revoked']),
    group: z.string().nullable().meta({ description: 'The only delegate group its delegates may register as; null when unbound.' }),
    tags: z.array(z.string()).nullable().meta({ description: 'The only tags its delegates may declare (their name and key: tags aside); null when unbound.' }),
  })
  .meta({ id: 'DelegateToken' });

export const tokenView = (t: DelegateToken): z.output<typeof tokenViewSchema> => ({
  id: t.id,
  name: t.name,
  createdAt: t.createdAt.toISOString(),
  revokedAt: iso(t.revokedAt),
  status: t.revokedAt ? 'revoked' : 'active',
  group: t.group,
  tags: t.tags,
});

export const DELEGATE_STATUSES = ['connected', 'draining', 'disconnected'] as const;

export const delegateViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    instanceId: z.string(),
    tags: z.array(z.string()),
    taskTypes: z.array(z.string()),
    status: z.enum(DELEGATE_STATUSES),
    inFlight: z.number().int(),
    maxConcurrency: z.number().int(),
    version: z.string(),
    transport: z.string().meta({ description: 'grpc, websocket or nats' }),
    tokenId: z.string(),
    connectedAt: time,
    lastHeartbeatAt: time,
    disconnectedAt: timeOrNull,
    policy: z
      .object({ digest: z.string(), allowRefs: z.array(z.string()), allowEndpoints: z.array(z.string()) })
      .nullable()
      .meta({ description: 'The policy the delegate reported from its own configuration (what it may read and reach); null if none.' }),
  })
  .meta({ id: 'Delegate' });
export type DelegateView = z.output<typeof delegateViewSchema>;

export const delegateView = (d: DelegateRecord, live?: { inFlight: number; status: string; lastHeartbeatAt: Date }): DelegateView => ({
  id: d.id,
  name: d.name,
  instanceId: d.instanceId,
  tags: d.tags,
  taskTypes: d.taskTypes,
  status: (live?.status ?? d.status) as DelegateView['status'],
  inFlight: live?.inFlight ?? d.inFlight,
  maxConcurrency: d.maxConcurrency,
  version: d.version,
  transport: d.transport,
  tokenId: d.tokenId,
  connectedAt: d.connectedAt.toISOString(),
  lastHeartbeatAt: (live?.lastHeartbeatAt ?? d.lastHeartbeatAt).toISOString(),
  disconnectedAt: iso(d.disconnectedAt),
  // Reported by the delegate from its own configuration: what it may read and reach, never a secret.
  policy: d.policy ? { digest: d.policy.digest, allowRefs: d.policy.allowRefs, allowEndpoints: d.policy.allowEndpoints } : null,
});

export const accountViewSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    partition: z.enum(PARTITION_NAMES as [Partition, ...Partition[]]),
    auth: authSchema,
    testRegion: z.string(),
    delegateSelectors: z.array(z.string()),
    gateway: z.string().nullable(),
    policyArns: z.array(z.string()),
    endpoints: z.object({ sts: z.string().optional(), ec2: z.string().optional(), iam: z.string().optional() }),
    caBundle: z.string().nullable(),
    status: z.enum(['unvalidated', 'validating', 'valid', 'invalid']),
    lastCheckedAt: timeOrNull,
    awsAccountId: z.string().nullable(),
    arn: z.string().nullable(),
    lastError: taskErrorSchema.nullable(),
    lastTaskId: z.string().nullable(),
    createdAt: time,
    updatedAt: time,
  })
  .meta({ id: 'AwsAccount' });

export const accountView = (a: AwsAccountRecord): z.output<typeof accountViewSchema> => ({
  id: a.id,
  name: a.name,
  description: a.description,
  // The store holds what the API validated with authSchema and the partition enum.
  partition: a.partition as Partition,
  auth: a.auth as z.output<typeof authSchema>,
  testRegion: a.testRegion,
  delegateSelectors: a.delegateSelectors,
  gateway: a.gateway,
  policyArns: a.policyArns,
  endpoints: endpointOverrides(a.endpoints),
  caBundle: caBundleOf(a.endpoints) ?? null,
  status: a.status,
  lastCheckedAt: iso(a.lastCheckedAt),
  awsAccountId: a.awsAccountId,
  arn: a.arn,
  lastError: a.lastError,
  lastTaskId: a.lastTaskId,
  createdAt: a.createdAt.toISOString(),
  updatedAt: a.updatedAt.toISOString(),
});
