import type { ActorRecord, AuditEntry } from './audit-records.js';
import type { ApiKeyRecord, Role, SessionRecord, TenantStatus, UserRecord, UserStatus } from './identity-records.js';
import type { CliBinding, CliCodeRecord, OidcConfigRecord, OidcLoginRecord } from './oidc-store.js';
import type { AwsAccountRecord, DelegateIdentityRecord, DelegatePolicyRecord, DelegateRecord, DelegateStatus, DelegateToken, GroupKeyRecord, TaskError, TaskRecord, TaskState, Tenant } from './records.js';

export type Row = Record<string, unknown>;

/**
 * How a backend hands columns back: SQLite as epoch milliseconds and JSON text, PostgreSQL as
 * `Date`, arrays and parsed jsonb. Everything else about a row is the same in both schemas.
 */
export interface ColumnCodec {
  date(v: unknown): Date;
  /** A JSON (or array) column that is never null. */
  json<T>(v: unknown): T;
}

/** Row → record mappers shared by every Store backend; the column names are the schema's. */
export function rowMappers(codec: ColumnCodec) {
  const date = (v: unknown): Date => codec.date(v);
  const dateOrNull = (v: unknown): Date | null => (v === null || v === undefined ? null : codec.date(v));
  const decode = <T>(v: unknown): T => codec.json<T>(v);
  const decodeOrNull = <T>(v: unknown): T | null => (v === null || v === undefined ? null : codec.json<T>(v));

  function tenantFromRow(r: Row): Tenant {
    return {
      id: r.id as string,
      name: r.name as string,
      externalId: r.external_id as string,
      createdAt: date(r.created_at),
      status: r.status as TenantStatus,
      suspendedAt: dateOrNull(r.suspended_at),
    };
  }

  function apiKeyFromRow(r: Row): ApiKeyRecord {
    return {
      id: r.id as string,
      tenantId: r.tenant_id as string,
      name: r.name as string,
      role: r.role as Role,
      prefix: r.prefix as string,
      hash: r.hash as string,
      createdAt: date(r.created_at),
      lastUsedAt: dateOrNull(r.last_used_at),
      expiresAt: dateOrNull(r.expires_at),
      revokedAt: dateOrNull(r.revoked_at),
      previousHash: (r.previous_hash as string | null) ?? null,
      previousValidUntil: dateOrNull(r.previous_valid_until),
    };
  }

  function userFromRow(r: Row): UserRecord {
    return {
      id: r.id as string,
      tenantId: r.tenant_id as string,
      email: r.email as string,
      name: r.name as string,
      role: r.role as Role,
      status: r.status as UserStatus,
      passwordHash: (r.password_hash as string | null) ?? null,
      createdAt: date(r.created_at),
      updatedAt: date(r.updated_at),
    };
  }

  function sessionFromRow(r: Row): SessionRecord {
    return {
      idHash: r.id_hash as string,
      tenantId: r.tenant_id as string,
      userId: r.user_id as string,
      createdAt: date(r.created_at),
      lastSeenAt: date(r.last_seen_at),
      expiresAt: date(r.expires_at),
      revokedAt: dateOrNull(r.revoked_at),
    };
  }

  function tokenFromRow(r: Row): DelegateToken {
    return {
      id: r.id as string,
      tenantId: r.tenant_id as string,
      name: r.name as string,
      hash: r.hash as string,
      createdAt: date(r.created_at),
      revokedAt: dateOrNull(r.revoked_at),
      group: (r.group_name as string | null) ?? null,
      tags: decodeOrNull<string[]>(r.bound_tags),
    };
  }

  function delegateFromRow(r: Row): DelegateRecord {
    return {
      id: r.id as string,
      tenantId: r.tenant_id as string,
      tokenId: r.token_id as string,
      name: r.name as string,
      instanceId: r.instance_id as string,
      tags: decode<string[]>(r.tags),
      taskTypes: decode<string[]>(r.task_types),
      maxConcurrency: r.max_concurrency as number,
      version: r.version as string,
      transport: r.transport as string,
      status: r.status as DelegateStatus,
      inFlight: r.in_flight as number,
      replicaId: r.replica_id as string,
      sessionId: r.session_id as string,
      connectedAt: date(r.connected_at),
      lastHeartbeatAt: date(r.last_heartbeat_at),
      disconnectedAt: dateOrNull(r.disconnected_at),
      policy: decodeOrNull<DelegatePolicyRecord>(r.policy),
    };
  }

  function taskFromRow(r: Row): TaskRecord {
    return {
      id: r.id as string,
      tenantId: r.tenant_id as string,
      type: r.type as string,
      payload: decode<Record<string, unknown>>(r.payload),
      selectors: decode<string[]>(r.selectors),
      priority: r.priority as number,
      state: r.state as TaskState,
      attempt: r.attempt as number,
      maxAttempts: r.max_attempts as number,
      delegateId: (r.delegate_id as string | null) ?? null,
      queueTimeoutSeconds: r.queue_timeout_seconds as number,
      runTimeoutSeconds: r.run_timeout_seconds as number,
      result: decodeOrNull<Record<string, unknown>>(r.result),
      error: decodeOrNull<TaskError>(r.error),
      accountId: (r.account_id as string | null) ?? null,
      requestedBy: decodeOrNull<ActorRecord>(r.requested_by),
      createdAt: date(r.created_at),
      queuedAt: date(r.queued_at),
      assignedAt: dateOrNull(r.assigned_at),
      startedAt: dateOrNull(r.started_at),
      endedAt: dateOrNull(r.ended_at),
      leaseExpiresAt: dateOrNull(r.lease_expires_at),
    };
  }

  function accountFromRow(r: Row): AwsAccountRecord {
    return {
      id: r.id as string,
      tenantId: r.tenant_id as string,
      name: r.name as string,
      description: r.description as string,
      partition: r.partition as string,
      auth: decode<Record<string, unknown>>(r.auth),
      testRegion: r.test_region as string,
      delegateSelectors: decode<string[]>(r.delegate_selectors),
      endpoints: decode<Record<string, string>>(r.endpoints),
      gateway: (r.gateway as string | null) ?? null,
      policyArns: decode<string[]>(r.policy_arns),
      status: r.status as AwsAccountRecord['status'],
      lastTaskId: (r.last_task_id as string | null) ?? null,
      lastCheckedAt: dateOrNull(r.last_checked_at),
      awsAccountId: (r.aws_account_id as string | null) ?? null,
      arn: (r.arn as string | null) ?? null,
      lastError: decodeOrNull<TaskError>(r.last_error),
      createdAt: date(r.created_at),
      updatedAt: date(r.updated_at),
    };
  }

  function identityFromRow(r: Row): DelegateIdentityRecord {
    return {
      tenantId: r.tenant_id as string,
      group: r.group_name as string,
      partition: r.partition as string,
      arn: r.arn as string,
      awsAccountId: r.aws_account_id as string,
      taskId: r.task_id as string,
      reportedAt: date(r.reported_at),
    };
  }

  function groupKeyFromRow(r: Row): GroupKeyRecord {
    return {
      tenantId: r.tenant_id as string,
      group: r.group_name as string,
      keyId: r.key_id as string,
      algorithm: r.algorithm as string,
      publicKey: r.public_key as string,
      firstSeenAt: date(r.first_seen_at),
      lastSeenAt: date(r.last_seen_at),
      lastCurrentAt: dateOrNull(r.last_current_at),
      // SQLite stores booleans as 0/1.
      trusted: r.trusted === true || r.trusted === 1,
    };
  }

  function oidcConfigFromRow(r: Row): OidcConfigRecord {
    return {
      tenantId: r.tenant_id as string,
      issuer: r.issuer as string,
      clientId: r.client_id as string,
      clientSecretSealed: (r.client_secret_sealed as string | null) ?? null,
      allowedEmailDomains: decode<string[]>(r.allowed_email_domains),
      scopes: decode<string[]>(r.scopes),
      roleClaim: r.role_claim as string,
      roleMapping: decode<Record<string, Role>>(r.role_mapping),
      defaultRole: (r.default_role as Role | null) ?? null,
      createdAt: date(r.created_at),
      updatedAt: date(r.updated_at),
    };
  }

  function oidcLoginFromRow(r: Row): OidcLoginRecord {
    return {
      stateHash: r.state_hash as string,
      tenantId: r.tenant_id as string,
      browserHash: r.browser_hash as string,
      nonce: r.nonce as string,
      codeVerifier: r.code_verifier as string,
      returnTo: r.return_to as string,
      cli: decodeOrNull<CliBinding>(r.cli),
      createdAt: date(r.created_at),
      expiresAt: date(r.expires_at),
    };
  }

  function cliCodeFromRow(r: Row): CliCodeRecord {
    return {
      codeHash: r.code_hash as string,
      tenantId: r.tenant_id as string,
      userId: r.user_id as string,
      codeChallenge: r.code_challenge as string,
      redirectUri: r.redirect_uri as string,
      createdAt: date(r.created_at),
      expiresAt: date(r.expires_at),
    };
  }

  function auditFromRow(r: Row): AuditEntry {
    return {
      id: r.id as string,
      tenantId: r.tenant_id as string,
      at: date(r.at),
      actor: decode<AuditEntry['actor']>(r.actor),
      role: (r.role as AuditEntry['role']) ?? null,
      clientAddress: (r.client_address as string | null) ?? null,
      userAgent: (r.user_agent as string | null) ?? null,
      action: r.action as string,
      target: { type: r.target_type as string, id: (r.target_id as string | null) ?? null, name: (r.target_name as string | null) ?? null },
      outcome: r.outcome as string,
      diff: decode<AuditEntry['diff']>(r.diff),
      details: decode<AuditEntry['details']>(r.details),
    };
  }

  return {
    tenantFromRow,
    tokenFromRow,
    delegateFromRow,
    taskFromRow,
    accountFromRow,
    identityFromRow,
    groupKeyFromRow,
    apiKeyFromRow,
    userFromRow,
    sessionFromRow,
    oidcConfigFromRow,
    oidcLoginFromRow,
    cliCodeFromRow,
    auditFromRow,
  };
}
