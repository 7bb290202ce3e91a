import { caBundleOf, endpointOverrides } from '../aws/connection.js';
import type { AwsAccountRecord, DelegateRecord, DelegateToken, TaskRecord } from '../store/store.js';

/** API representations. Built field by field so nothing stored (hashes) leaks by accident. */
const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export const taskView = (t: TaskRecord) => ({
  id: t.id,
  type: t.type,
  state: t.state,
  attempt: t.attempt,
  maxAttempts: t.maxAttempts,
  selectors: t.selectors,
  priority: t.priority,
  payload: t.payload,
  delegateId: t.delegateId,
  accountId: t.accountId,
  queueTimeoutSeconds: t.queueTimeoutSeconds,
  runTimeoutSeconds: t.runTimeoutSeconds,
  result: t.result,
  error: t.error,
  createdAt: iso(t.createdAt),
  queuedAt: iso(t.queuedAt),
  assignedAt: iso(t.assignedAt),
  startedAt: iso(t.startedAt),
  endedAt: iso(t.endedAt),
});

export const tokenView = (t: DelegateToken) => ({
  id: t.id,
  name: t.name,
  createdAt: iso(t.createdAt),
  revokedAt: iso(t.revokedAt),
  status: t.revokedAt ? 'revoked' : 'active',
  group: t.group,
  tags: t.tags,
});

export const delegateView = (d: DelegateRecord, live?: { inFlight: number; status: string; lastHeartbeatAt: Date }) => ({
  id: d.id,
  name: d.name,
  instanceId: d.instanceId,
  tags: d.tags,
  taskTypes: d.taskTypes,
  status: live?.status ?? d.status,
  inFlight: live?.inFlight ?? d.inFlight,
  maxConcurrency: d.maxConcurrency,
  version: d.version,
  transport: d.transport,
  tokenId: d.tokenId,
  connectedAt: iso(d.connectedAt),
  lastHeartbeatAt: iso(live?.lastHeartbeatAt ?? d.lastHeartbeatAt),
  disconnectedAt: iso(d.disconnectedAt),
  // Reported by the delegate from its own configuration: what it may read and reach, never a secret.
  policy: d.policy ? { digest: d.policy.digest, allowRefs: d.policy.allowRefs, allowEndpoints: d.policy.allowEndpoints } : null,
});

export const accountView = (a: AwsAccountRecord) => ({
  id: a.id,
  name: a.name,
  description: a.description,
  partition: a.partition,
  auth: a.auth,
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
  createdAt: iso(a.createdAt),
  updatedAt: iso(a.updatedAt),
});
