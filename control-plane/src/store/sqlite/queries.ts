import { ATTEMPTS_EXHAUSTED_SQL } from '../rules.js';

/**
 * Every statement of the SQLite Store, by name: the reads and the writes apart, because only the
 * group commit may run a write (see group-commit.ts; SQLite's own read-only flag checks the split).
 * Values are bound as named parameters; lists travel as JSON arrays read with json_each, so one
 * prepared statement serves any number of ids, tags or states and no SQL is built from input.
 */

const ACTIVE = `('assigned', 'running')`;
const EXHAUSTED = ATTEMPTS_EXHAUSTED_SQL;

/**
 * An eligible task: the delegate carries every selector, and supports the type. Selectors and
 * types are bound as JSON arrays so one prepared statement serves any delegate. The rule is
 * tasks/eligibility.ts's `staticReasons`; store/eligibility-agreement.test.ts checks that they agree.
 */
const ELIGIBLE = `
  t.type IN (SELECT value FROM json_each(@taskTypes))
  AND NOT EXISTS (
    SELECT 1 FROM json_each(t.selectors) s
    WHERE s.value NOT IN (SELECT value FROM json_each(@tags))
  )`;

// The partial indexes of SQLite migration 13 serve a query only when its WHERE repeats theirs (state =
// 'queued', state IN ACTIVE); INDEXED BY makes a statement that stopped matching fail at prepare.
export const READS = {
  // The tasks claimQueued (and claimNext, for one) takes: the best queued tasks of the tenant the
  // delegate is eligible for, up to @limit. The claim batch of a turn (claim-batch.ts) reads for every claim of a turn with one eligibility at once; the claim itself is
  // claimTasks' fenced UPDATE of these ids.
  nextEligibleMany: `SELECT t.id FROM tasks t INDEXED BY tasks_queue
    WHERE t.tenant_id = @tenantId AND t.state = 'queued' AND ${ELIGIBLE}
    ORDER BY t.priority DESC, t.queued_at ASC, t.id ASC LIMIT @limit`,
  getTenant: `SELECT * FROM tenants WHERE id = ?`,

  groupBound: `SELECT 1 FROM delegate_tokens
    WHERE tenant_id = ? AND group_name = ? AND revoked_at IS NULL LIMIT 1`,
  listTokens: `SELECT * FROM delegate_tokens WHERE tenant_id = @tenantId
      AND (@afterKey IS NULL OR created_at > @afterKey OR (created_at = @afterKey AND id > @afterId))
    ORDER BY created_at, id LIMIT @limit`,
  tokenByHash: `SELECT * FROM delegate_tokens WHERE hash = ?`,

  listDelegates: `SELECT * FROM delegates WHERE tenant_id = @tenantId
      AND (status <> 'disconnected' OR disconnected_at >= @since)
      AND (@afterKey IS NULL OR name > @afterKey OR (name = @afterKey AND id > @afterId))
    ORDER BY name, id LIMIT @limit`,
  // json_each: one statement for any number of ids, no SQL built from input.
  delegateNames: `SELECT id, name FROM delegates WHERE tenant_id = ? AND id IN (SELECT value FROM json_each(?))`,
  countConnected: `SELECT COUNT(*) AS count FROM delegates WHERE tenant_id = ? AND status <> 'disconnected' AND id <> ?`,
  countDelegates: `SELECT status, transport, COUNT(*) AS count FROM delegates
    GROUP BY status, transport ORDER BY status, transport`,
  countConnectedByVersion: `SELECT version, COUNT(*) AS count FROM delegates WHERE status <> 'disconnected'
    GROUP BY version ORDER BY version`,

  getTask: `SELECT * FROM tasks WHERE tenant_id = ? AND id = ?`,
  listTasks: `SELECT * FROM tasks WHERE tenant_id = @tenantId
      AND (@state IS NULL OR state = @state)
      AND (@type IS NULL OR type = @type)
      AND (@beforeId IS NULL OR id < @beforeId)
    ORDER BY id DESC LIMIT @limit`,
  activeOfDelegate: `SELECT * FROM tasks INDEXED BY tasks_delegate_active WHERE delegate_id = ? AND state IN ${ACTIVE} ORDER BY assigned_at, id`,
  expiredLeases: `SELECT * FROM tasks INDEXED BY tasks_active_lease WHERE state IN ${ACTIVE} AND lease_expires_at < ?
    ORDER BY lease_expires_at, id LIMIT ?`,
  queueTimedOut: `SELECT * FROM tasks WHERE state = 'queued'
      AND queued_at + queue_timeout_seconds * 1000 < ?
    ORDER BY queued_at, id LIMIT ?`,
  runTimedOut: `SELECT * FROM tasks WHERE state IN ${ACTIVE}
      AND COALESCE(started_at, assigned_at) + run_timeout_seconds * 1000 < ?
    ORDER BY COALESCE(started_at, assigned_at), id LIMIT ?`,
  queueStats: `SELECT selectors, type, COUNT(*) AS queued, MIN(queued_at) AS oldest FROM tasks
    WHERE tenant_id = ? AND state = 'queued'
    GROUP BY selectors, type ORDER BY oldest, type, selectors`,
  // Same WHERE as the partial index tasks_tenant_open, which holds the tenant and payload_bytes:
  // the count reads the index alone, never the rows (INDEXED BY: fail loudly if it could not).
  openTaskUsage: `SELECT COUNT(*) AS tasks, COALESCE(SUM(payload_bytes), 0) AS bytes FROM tasks INDEXED BY tasks_tenant_open
    WHERE tenant_id = ? AND state IN ('queued', 'assigned', 'running')`,
  statsByTypeAndState: `SELECT type, state, COUNT(*) AS count FROM tasks
    GROUP BY type, state ORDER BY type, state`,
  statsQueued: `SELECT COUNT(*) AS queued, MIN(queued_at) AS oldest FROM tasks WHERE state = 'queued'`,

  getAccount: `SELECT * FROM aws_accounts WHERE tenant_id = ? AND id = ?`,
  listAccounts: `SELECT * FROM aws_accounts WHERE tenant_id = @tenantId
      AND (@afterKey IS NULL OR name > @afterKey OR (name = @afterKey AND id > @afterId))
    ORDER BY name, id LIMIT @limit`,

  listIdentities: `SELECT * FROM delegate_identities WHERE tenant_id = ? ORDER BY group_name, partition`,

  groupKeyTrust: `SELECT key_id, trusted FROM delegate_group_keys WHERE tenant_id = ? AND group_name = ?`,
  listGroupKeys: `SELECT * FROM delegate_group_keys WHERE tenant_id = ? AND group_name = ?
    ORDER BY COALESCE(last_current_at, 0) DESC, last_seen_at DESC, key_id`,
} as const;

export const WRITES = {
  insertTenant: `INSERT INTO tenants (id, name, external_id, created_at) VALUES (?, ?, ?, ?)`,
  insertApiKey: `INSERT INTO api_keys (id, tenant_id, hash, created_at, name, role, prefix) VALUES (?, ?, ?, ?, ?, 'admin', ?)`,

  insertToken: `INSERT INTO delegate_tokens (id, tenant_id, name, hash, created_at, revoked_at, group_name, bound_tags)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  // The first revocation time stands: revoking again must not move it.
  revokeToken: `UPDATE delegate_tokens SET revoked_at = COALESCE(revoked_at, ?)
    WHERE tenant_id = ? AND id = ? RETURNING *`,

  upsertDelegate: `INSERT INTO delegates (id, tenant_id, token_id, name, instance_id, tags, task_types,
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
      disconnected_at = excluded.disconnected_at, session_id = excluded.session_id, policy = excluded.policy`,
  endSession: `UPDATE delegates SET status = 'disconnected', disconnected_at = ?, in_flight = 0
    WHERE id = ? AND session_id = ?`,
  updatePresence: `UPDATE delegates SET
      status = COALESCE(@status, status),
      in_flight = COALESCE(@inFlight, in_flight),
      last_heartbeat_at = COALESCE(@lastHeartbeatAt, last_heartbeat_at),
      disconnected_at = CASE WHEN @setDisconnectedAt THEN @disconnectedAt ELSE disconnected_at END
    WHERE id = @id`,
  disconnectReplica: `UPDATE delegates SET status = 'disconnected', disconnected_at = ?
    WHERE replica_id = ? AND status <> 'disconnected'`,

  insertTask: `INSERT INTO tasks (id, tenant_id, type, payload, selectors, priority, state, attempt,
      max_attempts, delegate_id, queue_timeout_seconds, run_timeout_seconds, result, error, account_id,
      created_at, queued_at, assigned_at, started_at, ended_at, lease_expires_at, payload_bytes, requested_by)
    VALUES (@id, @tenantId, @type, @payload, @selectors, @priority, @state, @attempt, @maxAttempts,
      @delegateId, @queueTimeoutSeconds, @runTimeoutSeconds, @result, @error, @accountId, @createdAt,
      @queuedAt, @assignedAt, @startedAt, @endedAt, @leaseExpiresAt, @payloadBytes, @requestedBy)`,
  claimTask: `UPDATE tasks AS t SET state = 'assigned', delegate_id = @delegateId, assigned_at = @now,
      lease_expires_at = @lease
    WHERE t.id = @taskId AND t.tenant_id = @tenantId AND t.state = 'queued' AND ${ELIGIBLE}
    RETURNING *`,
  // The claims of one turn (claim-batch.ts) for delegates of one eligibility: @claims is a JSON array
  // of [taskId, delegateId, assignedAt, leaseExpiresAt], each fenced like claimTask. The unary + keeps
  // the planner off the queue index (it would scan every queued task of the tenant and join the claims
  // to each): the claims are the outer loop, each task found by its primary key.
  claimTasks: `UPDATE tasks AS t SET state = 'assigned', delegate_id = c.value ->> 1, assigned_at = c.value ->> 2,
      lease_expires_at = c.value ->> 3
    FROM json_each(@claims) AS c
    WHERE t.id = c.value ->> 0 AND +t.tenant_id = @tenantId AND +t.state = 'queued' AND ${ELIGIBLE}
    RETURNING *`,
  markRunning: `UPDATE tasks SET state = 'running', started_at = @now, lease_expires_at = @lease
    WHERE id = @taskId AND attempt = @attempt AND delegate_id = @delegateId AND state = 'assigned'
    RETURNING *`,
  completeTask: `UPDATE tasks SET state = @state, result = @result, error = @error, ended_at = @now,
      started_at = COALESCE(started_at, @startedAt), lease_expires_at = NULL
    WHERE id = @taskId AND attempt = @attempt AND delegate_id = @delegateId AND state IN ${ACTIVE}
    RETURNING *`,
  // One statement for both outcomes (requeue, or fail once the attempts are used up), as in the
  // PostgreSQL store: no read-then-write step. SET expressions all read the row as it was.
  requeue: `UPDATE tasks SET
      state            = CASE WHEN ${EXHAUSTED} THEN 'failed' ELSE 'queued' END,
      error            = CASE WHEN ${EXHAUSTED} THEN @error ELSE error END,
      ended_at         = CASE WHEN ${EXHAUSTED} THEN @now ELSE ended_at END,
      delegate_id      = CASE WHEN ${EXHAUSTED} THEN delegate_id ELSE NULL END,
      assigned_at      = CASE WHEN ${EXHAUSTED} THEN assigned_at ELSE NULL END,
      started_at       = CASE WHEN ${EXHAUSTED} THEN started_at ELSE NULL END,
      queued_at        = CASE WHEN ${EXHAUSTED} THEN queued_at ELSE @now END,
      attempt          = CASE WHEN ${EXHAUSTED} THEN attempt ELSE attempt + 1 END,
      lease_expires_at = NULL
    WHERE id = @taskId AND attempt = @attempt AND state IN ${ACTIVE}
    RETURNING *`,
  extendLeases: `UPDATE tasks SET lease_expires_at = ?
    WHERE id IN (SELECT value FROM json_each(?)) AND delegate_id = ? AND state IN ${ACTIVE}`,
  finishTask: `UPDATE tasks SET state = @state, error = @error, ended_at = @now, lease_expires_at = NULL
    WHERE tenant_id = @tenantId AND id = @taskId
      AND state IN (SELECT value FROM json_each(@fromStates))
      AND (@attempt IS NULL OR attempt = @attempt)
    RETURNING *`,
  deleteEnded: `DELETE FROM tasks WHERE id IN (
      SELECT id FROM tasks WHERE ended_at IS NOT NULL AND ended_at < ? ORDER BY ended_at LIMIT ?)`,

  insertAccount: `INSERT INTO aws_accounts (id, tenant_id, name, description, partition, auth, test_region,
      delegate_selectors, endpoints, status, last_task_id, last_checked_at, aws_account_id, arn, last_error,
      created_at, updated_at, gateway, policy_arns)
    VALUES (@id, @tenantId, @name, @description, @partition, @auth, @testRegion, @delegateSelectors,
      @endpoints, @status, @lastTaskId, @lastCheckedAt, @awsAccountId, @arn, @lastError, @createdAt,
      @updatedAt, @gateway, @policyArns)`,
  updateAccount: `UPDATE aws_accounts SET
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
    RETURNING *`,
  deleteAccount: `DELETE FROM aws_accounts WHERE tenant_id = ? AND id = ?`,
  startValidation: `UPDATE aws_accounts SET status = 'validating', last_task_id = @taskId, updated_at = @now
    WHERE tenant_id = @tenantId AND id = @id
    RETURNING *`,
  // Fenced by last_task_id: the outcome of a validation that a newer one replaced is dropped.
  recordValidation: `UPDATE aws_accounts SET status = @status, last_checked_at = @checkedAt,
      aws_account_id = @awsAccountId, arn = @arn, last_error = @error, updated_at = @checkedAt
    WHERE tenant_id = @tenantId AND id = @id AND last_task_id = @taskId
    RETURNING *`,

  // A late report from an older validation never replaces a newer one.
  upsertIdentity: `INSERT INTO delegate_identities (tenant_id, group_name, partition, arn, aws_account_id, task_id, reported_at)
    VALUES (@tenantId, @group, @partition, @arn, @awsAccountId, @taskId, @reportedAt)
    ON CONFLICT (tenant_id, group_name, partition) DO UPDATE SET
      arn = excluded.arn, aws_account_id = excluded.aws_account_id, task_id = excluded.task_id,
      reported_at = excluded.reported_at
    WHERE excluded.reported_at >= delegate_identities.reported_at`,

  // Times only move forward, so a slow replica's late write cannot make an old key look current again.
  upsertGroupKey: `INSERT INTO delegate_group_keys (tenant_id, group_name, key_id, algorithm, public_key, first_seen_at, last_seen_at, last_current_at, trusted)
    VALUES (@tenantId, @group, @keyId, @algorithm, @publicKey, @at, @at, @currentAt, @trusted)
    ON CONFLICT (tenant_id, group_name, key_id) DO UPDATE SET
      last_seen_at = MAX(delegate_group_keys.last_seen_at, excluded.last_seen_at),
      last_current_at = CASE
        WHEN excluded.last_current_at IS NULL THEN delegate_group_keys.last_current_at
        ELSE MAX(COALESCE(delegate_group_keys.last_current_at, 0), excluded.last_current_at) END,
      trusted = MAX(delegate_group_keys.trusted, excluded.trusted)
    RETURNING *`,
  setGroupKeyTrust: `UPDATE delegate_group_keys SET trusted = ? WHERE tenant_id = ? AND group_name = ? AND key_id = ? RETURNING *`,
} as const;

/** Store.identity: users, sessions, API keys, sign-in attempts, tenants' status. */
export const IDENTITY_READS = {
  listTenants: `SELECT * FROM tenants WHERE (@afterId IS NULL OR id > @afterId) ORDER BY id LIMIT @limit`,
  listKeys: `SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id`,
  keyByHash: `SELECT * FROM api_keys WHERE hash = ?`,
  keyByPreviousHash: `SELECT * FROM api_keys WHERE previous_hash = ?`,
  getUser: `SELECT * FROM users WHERE tenant_id = ? AND id = ?`,
  listUsers: `SELECT * FROM users WHERE tenant_id = ? ORDER BY email, id`,
  usersByEmail: `SELECT u.*, t.id AS t_id, t.name AS t_name, t.external_id AS t_external_id, t.created_at AS t_created_at,
      t.status AS t_status, t.suspended_at AS t_suspended_at
    FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = ? ORDER BY t.id`,
  otherActiveAdmins: `SELECT COUNT(*) AS n FROM users WHERE tenant_id = ? AND id <> ? AND role = 'admin' AND status = 'active'`,
  getSession: `SELECT * FROM sessions WHERE id_hash = ?`,
  countAttempts: `SELECT COUNT(*) AS n, MIN(at) AS oldest FROM login_attempts WHERE bucket = ? AND at >= ?`,
  getTenant: `SELECT * FROM tenants WHERE id = ?`,
} as const;

export const IDENTITY_WRITES = {
  setTenantStatus: `UPDATE tenants SET status = @status,
      suspended_at = CASE WHEN @status = 'suspended' THEN COALESCE(suspended_at, @at) ELSE NULL END
    WHERE id = @id RETURNING *`,
  insertKey: `INSERT INTO api_keys (id, tenant_id, name, role, prefix, hash, created_at, last_used_at, expires_at,
      revoked_at, previous_hash, previous_valid_until)
    VALUES (@id, @tenantId, @name, @role, @prefix, @hash, @createdAt, @lastUsedAt, @expiresAt, @revokedAt,
      @previousHash, @previousValidUntil)`,
  rotateKey: `UPDATE api_keys SET previous_hash = CASE WHEN @validUntil IS NULL THEN NULL ELSE hash END,
      previous_valid_until = @validUntil, hash = @hash, prefix = @prefix
    WHERE tenant_id = @tenantId AND id = @id AND revoked_at IS NULL RETURNING *`,
  revokeKey: `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ? RETURNING *`,
  touchKey: `UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`,
  insertUser: `INSERT INTO users (id, tenant_id, email, name, role, status, password_hash, created_at, updated_at)
    VALUES (@id, @tenantId, @email, @name, @role, @status, @passwordHash, @createdAt, @updatedAt)`,
  updateUser: `UPDATE users SET name = COALESCE(@name, name), role = COALESCE(@role, role),
      status = COALESCE(@status, status),
      password_hash = CASE WHEN @setPassword THEN @passwordHash ELSE password_hash END, updated_at = @now
    WHERE tenant_id = @tenantId AND id = @id RETURNING *`,
  deleteSessionsOfUser: `DELETE FROM sessions WHERE tenant_id = ? AND user_id = ?`,
  deleteUser: `DELETE FROM users WHERE tenant_id = ? AND id = ?`,
  insertSession: `INSERT INTO sessions (id_hash, tenant_id, user_id, created_at, last_seen_at, expires_at, revoked_at)
    VALUES (@idHash, @tenantId, @userId, @createdAt, @lastSeenAt, @expiresAt, @revokedAt)`,
  touchSession: `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?`,
  revokeSession: `UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id_hash = ?`,
  revokeUserSessions: `UPDATE sessions SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL`,
  insertAttempt: `INSERT INTO login_attempts (bucket, at) VALUES (?, ?)`,
  clearBucket: `DELETE FROM login_attempts WHERE bucket = ?`,
  clearOld: `DELETE FROM login_attempts WHERE at < ?`,
  pruneSessions: `DELETE FROM sessions WHERE expires_at < ?`,
} as const;

/** Store.oidc: tenants' OIDC providers and the sign-ins in progress. */
export const OIDC_READS = {
  tenantByName: `SELECT * FROM tenants WHERE name = ?`,
  getConfig: `SELECT * FROM oidc_configs WHERE tenant_id = ?`,
} as const;

export const OIDC_WRITES = {
  putConfig: `INSERT INTO oidc_configs (tenant_id, issuer, client_id, client_secret_sealed, allowed_email_domains, scopes,
      role_claim, role_mapping, default_role, created_at, updated_at)
    VALUES (@tenantId, @issuer, @clientId, @clientSecretSealed, @allowedEmailDomains, @scopes, @roleClaim, @roleMapping, @defaultRole,
      @createdAt, @updatedAt)
    ON CONFLICT (tenant_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
      client_secret_sealed = excluded.client_secret_sealed, allowed_email_domains = excluded.allowed_email_domains,
      scopes = excluded.scopes, role_claim = excluded.role_claim, role_mapping = excluded.role_mapping, default_role = excluded.default_role,
      updated_at = excluded.updated_at
    RETURNING *`,
  deleteConfig: `DELETE FROM oidc_configs WHERE tenant_id = ?`,
  insertLogin: `INSERT INTO oidc_logins (state_hash, tenant_id, browser_hash, nonce, code_verifier, return_to, cli, created_at, expires_at)
    VALUES (@stateHash, @tenantId, @browserHash, @nonce, @codeVerifier, @returnTo, @cli, @createdAt, @expiresAt)`,
  takeLogin: `DELETE FROM oidc_logins WHERE state_hash = ? RETURNING *`,
  pruneLogins: `DELETE FROM oidc_logins WHERE expires_at < ?`,
  insertCliCode: `INSERT INTO oidc_cli_codes (code_hash, tenant_id, user_id, code_challenge, redirect_uri, created_at, expires_at)
    VALUES (@codeHash, @tenantId, @userId, @codeChallenge, @redirectUri, @createdAt, @expiresAt)`,
  takeCliCode: `DELETE FROM oidc_cli_codes WHERE code_hash = ? RETURNING *`,
  pruneCliCodes: `DELETE FROM oidc_cli_codes WHERE expires_at < ?`,
} as const;

/** Store.audit: append, list, retention's delete. */
export const AUDIT_READS = {
  list: `SELECT * FROM audit_entries WHERE tenant_id = @tenantId
        AND (@beforeId IS NULL OR id < @beforeId)
        AND (@action IS NULL OR action = @action)
        AND (@actor IS NULL OR instr(actor_keys, ' ' || @actor || ' ') > 0)
        AND (@target IS NULL OR target_id = @target OR target_name = @target)
        AND (@since IS NULL OR at >= @since)
        AND (@until IS NULL OR at < @until)
      ORDER BY id DESC LIMIT @limit`,
} as const;

export const AUDIT_WRITES = {
  insert: `INSERT INTO audit_entries (id, tenant_id, at, actor, actor_keys, role, client_address, user_agent, action,
        target_type, target_id, target_name, outcome, diff, details)
      VALUES (@id, @tenantId, @at, @actor, @actorKeys, @role, @clientAddress, @userAgent, @action, @targetType, @targetId,
        @targetName, @outcome, @diff, @details)`,
  prune: `DELETE FROM audit_entries WHERE id IN (SELECT id FROM audit_entries WHERE at < ? LIMIT ?)`,
} as const;
