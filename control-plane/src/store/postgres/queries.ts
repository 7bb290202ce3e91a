import { ATTEMPTS_EXHAUSTED_SQL } from '../rules.js';

/**
 * Every statement of the PostgreSQL Store, by name. Parameters are positional ($1…), in the order
 * the method of the same name passes them; lists travel as text[] (`= ANY($n::text[])`) and JSON
 * values as text cast to jsonb, so no SQL is ever built from input.
 */

const ACTIVE = `('assigned', 'running')`;

/**
 * Eligibility, as in every backend: the delegate carries every selector and supports the type
 * (tasks/eligibility.ts's `staticReasons`; store/eligibility-agreement.test.ts checks that they
 * agree). `$tags` and `$types` are text[] parameters at the positions given.
 */
const eligible = (tags: string, types: string): string => `t.selectors <@ ${tags}::text[] AND t.type = ANY(${types}::text[])`;

const EXHAUSTED = ATTEMPTS_EXHAUSTED_SQL;

/** A tenant's columns beside a joined row, prefixed so they cannot shadow the row's own. */
const TENANT_COLUMNS = `t.id AS t_id, t.name AS t_name, t.external_id AS t_external_id, t.created_at AS t_created_at,
  t.status AS t_status, t.suspended_at AS t_suspended_at`;


export const Q = {
  claimTask: `UPDATE tasks AS t SET state = 'assigned', delegate_id = $2, assigned_at = $5, lease_expires_at = $6
    WHERE t.id = $1 AND t.tenant_id = $7 AND t.state = 'queued' AND ${eligible('$3', '$4')}
    RETURNING t.*`,
  // claimQueued (claimNext is it with 1) for the delegates of one eligibility (tenant $1, tags $2,
  // types $3) asking in one turn: the best $4 (their slots together) eligible queued tasks, locked
  // skipping rows another transaction (another replica's claim) holds; under READ COMMITTED the lock
  // re-checks each row's current version, so a row claimed meanwhile no longer qualifies and no two
  // replicas assign the same attempt. The CTE is MATERIALIZED, run exactly once: as `id IN (SELECT …
  // LIMIT n)` the planner may re-run a LIMITed subquery per outer row and update more rows than the
  // limit, which assigned a delegate more tasks than it has slots. The tasks are numbered in queue
  // order, and task n goes to the delegate whose slots ($5 delegate, $6 first slot, $7 slots, $8 now,
  // $9 lease; slots numbered from 1 in the order the claims came) cover n. One statement, one scan of
  // the queue, instead of one per delegate.
  claimQueuedMany: `WITH picked AS MATERIALIZED (
      SELECT p.id, row_number() OVER (ORDER BY p.priority DESC, p.queued_at, p.id) AS n FROM (
        SELECT t.id, t.priority, t.queued_at FROM tasks t
        WHERE t.tenant_id = $1 AND t.state = 'queued' AND ${eligible('$2', '$3')}
        ORDER BY t.priority DESC, t.queued_at, t.id
        FOR UPDATE SKIP LOCKED
        LIMIT $4) p),
    slots AS (
      SELECT s.delegate_id, s.now, s.lease, generate_series(s.first, s.first + s.n - 1) AS n
      FROM unnest($5::text[], $6::int[], $7::int[], $8::timestamptz[], $9::timestamptz[]) AS s(delegate_id, first, n, now, lease))
    UPDATE tasks AS u SET state = 'assigned', delegate_id = slots.delegate_id, assigned_at = slots.now, lease_expires_at = slots.lease
    FROM picked JOIN slots ON slots.n = picked.n
    WHERE u.id = picked.id AND u.state = 'queued'
    RETURNING u.*`,
  // One statement for both outcomes, so there is no read-then-write window between replicas.
  requeue: `UPDATE tasks SET
      state            = CASE WHEN ${EXHAUSTED} THEN 'failed' ELSE 'queued' END,
      error            = CASE WHEN ${EXHAUSTED} THEN $4::jsonb ELSE error END,
      ended_at         = CASE WHEN ${EXHAUSTED} THEN $3::timestamptz ELSE ended_at END,
      delegate_id      = CASE WHEN ${EXHAUSTED} THEN delegate_id ELSE NULL END,
      assigned_at      = CASE WHEN ${EXHAUSTED} THEN assigned_at ELSE NULL END,
      started_at       = CASE WHEN ${EXHAUSTED} THEN started_at ELSE NULL END,
      queued_at        = CASE WHEN ${EXHAUSTED} THEN queued_at ELSE $3::timestamptz END,
      attempt          = CASE WHEN ${EXHAUSTED} THEN attempt ELSE attempt + 1 END,
      lease_expires_at = NULL
    WHERE id = $1 AND attempt = $2 AND state IN ${ACTIVE}
    RETURNING *`,
  insertTenant: 'INSERT INTO tenants (id, name, external_id, created_at) VALUES ($1, $2, $3, $4)',
  insertApiKey: `INSERT INTO api_keys (id, tenant_id, hash, created_at, name, role, prefix) VALUES ($1, $2, $3, $4, $5, 'admin', $6)`,
  getTenant: 'SELECT * FROM tenants WHERE id = $1',
  createDelegateToken: `INSERT INTO delegate_tokens (id, tenant_id, name, hash, created_at, revoked_at, group_name, bound_tags)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  listDelegateTokens: `SELECT * FROM delegate_tokens WHERE tenant_id = $1
         AND ($2::timestamptz IS NULL OR created_at > $2 OR (created_at = $2 AND id > $3))
       ORDER BY created_at, id LIMIT $4`,
  findDelegateTokenByHash: 'SELECT * FROM delegate_tokens WHERE hash = $1',
  revokeDelegateToken: 'UPDATE delegate_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2 RETURNING *',
  isDelegateGroupBound: 'SELECT 1 FROM delegate_tokens WHERE tenant_id = $1 AND group_name = $2 AND revoked_at IS NULL LIMIT 1',
  upsertDelegate: `INSERT INTO delegates (id, tenant_id, token_id, name, instance_id, tags, task_types, max_concurrency,
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
  endDelegateSession: `UPDATE delegates SET status = 'disconnected', disconnected_at = $3, in_flight = 0
       WHERE id = $1 AND session_id = $2`,
  updateDelegatePresence: `UPDATE delegates SET
         status = COALESCE($2::text, status),
         in_flight = COALESCE($3::integer, in_flight),
         last_heartbeat_at = COALESCE($4::timestamptz, last_heartbeat_at),
         disconnected_at = CASE WHEN $5::boolean THEN $6::timestamptz ELSE disconnected_at END
       WHERE id = $1`,
  listDelegates: `SELECT * FROM delegates WHERE tenant_id = $1 AND (status <> 'disconnected' OR disconnected_at >= $2)
         AND ($3::text IS NULL OR name > $3 OR (name = $3 AND id > $4))
       ORDER BY name, id LIMIT $5`,
  delegateNames: 'SELECT id, name FROM delegates WHERE tenant_id = $1 AND id = ANY($2::text[])',
  disconnectReplicaDelegates: `UPDATE delegates SET status = 'disconnected', disconnected_at = $2 WHERE replica_id = $1 AND status <> 'disconnected'`,
  countConnectedDelegates: `SELECT COUNT(*)::int AS count FROM delegates WHERE tenant_id = $1 AND status <> 'disconnected' AND id <> $2`,
  countDelegates: 'SELECT status, transport, COUNT(*)::int AS count FROM delegates GROUP BY status, transport ORDER BY status, transport',
  countConnectedDelegatesByVersion: `SELECT version, COUNT(*)::int AS count FROM delegates WHERE status <> 'disconnected' GROUP BY version ORDER BY version`,
  insertTask: `INSERT INTO tasks (id, tenant_id, type, payload, selectors, priority, state, attempt, max_attempts,
           delegate_id, queue_timeout_seconds, run_timeout_seconds, result, error, account_id, created_at,
           queued_at, assigned_at, started_at, ended_at, lease_expires_at, payload_bytes, requested_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`,
  getTask: 'SELECT * FROM tasks WHERE tenant_id = $1 AND id = $2',
  listTasks: `SELECT * FROM tasks WHERE tenant_id = $1
         AND ($2::text IS NULL OR state = $2)
         AND ($3::text IS NULL OR type = $3)
         AND ($4::text IS NULL OR id < $4)
       ORDER BY id DESC LIMIT $5`,
  markRunning: `UPDATE tasks SET state = 'running', started_at = $4, lease_expires_at = $5
       WHERE id = $1 AND attempt = $2 AND delegate_id = $3 AND state = 'assigned'
       RETURNING *`,
  completeTask: `UPDATE tasks SET state = $4, result = $5::jsonb, error = $6::jsonb, ended_at = $7,
         started_at = COALESCE(started_at, $8::timestamptz), lease_expires_at = NULL
       WHERE id = $1 AND attempt = $2 AND delegate_id = $3 AND state IN ${ACTIVE}
       RETURNING *`,
  extendLeases: `UPDATE tasks SET lease_expires_at = $3 WHERE id = ANY($2::text[]) AND delegate_id = $1 AND state IN ${ACTIVE}`,
  listActiveTasksOfDelegate: `SELECT * FROM tasks WHERE delegate_id = $1 AND state IN ${ACTIVE} ORDER BY assigned_at, id`,
  listExpiredLeases: `SELECT * FROM tasks WHERE state IN ${ACTIVE} AND lease_expires_at < $1 ORDER BY lease_expires_at, id LIMIT $2`,
  listQueueTimedOut: `SELECT * FROM tasks WHERE state = 'queued'
         AND queued_at + queue_timeout_seconds * interval '1 second' < $1
       ORDER BY queued_at, id LIMIT $2`,
  listRunTimedOut: `SELECT * FROM tasks WHERE state IN ${ACTIVE}
         AND COALESCE(started_at, assigned_at) + run_timeout_seconds * interval '1 second' < $1
       ORDER BY COALESCE(started_at, assigned_at), id LIMIT $2`,
  finishTask: `UPDATE tasks SET state = $4, error = $5::jsonb, ended_at = $6, lease_expires_at = NULL
       WHERE tenant_id = $1 AND id = $2 AND state = ANY($3::text[])
         AND ($7::integer IS NULL OR attempt = $7)
       RETURNING *`,
  queueStats: `SELECT selectors, type, COUNT(*)::int AS queued, MIN(queued_at) AS oldest FROM tasks
       WHERE tenant_id = $1 AND state = 'queued'
       GROUP BY selectors, type ORDER BY oldest, type, selectors`,
  openTaskUsage: `SELECT COUNT(*)::int AS tasks, COALESCE(SUM(payload_bytes), 0)::bigint AS bytes FROM tasks
       WHERE tenant_id = $1 AND state IN ('queued', 'assigned', 'running')`,
  deleteEndedTasks: `DELETE FROM tasks WHERE id IN (
         SELECT id FROM tasks WHERE ended_at IS NOT NULL AND ended_at < $1
         ORDER BY ended_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
  readOnlySnapshot: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY',
  statsByTypeAndState: 'SELECT type, state, COUNT(*)::int AS count FROM tasks GROUP BY type, state ORDER BY type, state',
  statsQueued: `SELECT COUNT(*)::int AS queued, MIN(queued_at) AS oldest FROM tasks WHERE state = 'queued'`,
  createAccount: `INSERT INTO aws_accounts (id, tenant_id, name, description, partition, auth, test_region,
           delegate_selectors, endpoints, status, last_task_id, last_checked_at, aws_account_id, arn, last_error,
           created_at, updated_at, gateway, policy_arns)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`,
  getAccount: 'SELECT * FROM aws_accounts WHERE tenant_id = $1 AND id = $2',
  listAccounts: `SELECT * FROM aws_accounts WHERE tenant_id = $1
         AND ($2::text IS NULL OR name > $2 OR (name = $2 AND id > $3))
       ORDER BY name, id LIMIT $4`,
  updateAccount: `UPDATE aws_accounts SET
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
  deleteAccount: 'DELETE FROM aws_accounts WHERE tenant_id = $1 AND id = $2',
  startValidation: `UPDATE aws_accounts SET status = 'validating', last_task_id = $3, updated_at = $4
       WHERE tenant_id = $1 AND id = $2
       RETURNING *`,
  recordValidation: `UPDATE aws_accounts SET status = $4, last_checked_at = $5, aws_account_id = $6, arn = $7,
         last_error = $8::jsonb, updated_at = $5
       WHERE tenant_id = $1 AND id = $2 AND last_task_id = $3
       RETURNING *`,
  recordDelegateIdentity: `INSERT INTO delegate_identities (tenant_id, group_name, partition, arn, aws_account_id, task_id, reported_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (tenant_id, group_name, partition) DO UPDATE SET
         arn = excluded.arn, aws_account_id = excluded.aws_account_id, task_id = excluded.task_id,
         reported_at = excluded.reported_at
       WHERE excluded.reported_at >= delegate_identities.reported_at`,
  listDelegateIdentities: 'SELECT * FROM delegate_identities WHERE tenant_id = $1 ORDER BY group_name, partition',
  lockGroupKeys: 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))',
  groupKeyTrust: 'SELECT key_id, trusted FROM delegate_group_keys WHERE tenant_id = $1 AND group_name = $2',
  upsertGroupKeys: `INSERT INTO delegate_group_keys (tenant_id, group_name, key_id, algorithm, public_key, first_seen_at, last_seen_at, last_current_at, trusted)
         SELECT $1, $2, k.key_id, k.algorithm, k.public_key, $6, $6, CASE WHEN k.ord = 1 THEN $6::timestamptz END, $7
         FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS k(key_id, algorithm, public_key, ord)
         ON CONFLICT (tenant_id, group_name, key_id) DO UPDATE SET
           last_seen_at = GREATEST(delegate_group_keys.last_seen_at, excluded.last_seen_at),
           last_current_at = GREATEST(delegate_group_keys.last_current_at, excluded.last_current_at),
           trusted = delegate_group_keys.trusted OR excluded.trusted
         RETURNING *`,
  setGroupKeyTrust: 'UPDATE delegate_group_keys SET trusted = $4 WHERE tenant_id = $1 AND group_name = $2 AND key_id = $3 RETURNING *',
  listGroupKeys: `SELECT * FROM delegate_group_keys WHERE tenant_id = $1 AND group_name = $2
       ORDER BY last_current_at DESC NULLS LAST, last_seen_at DESC, key_id`,
} as const;

/**
 * The hot task transitions over arrays, one statement for every call of one event-loop turn
 * (turn-batch.ts). Each is the one-row statement of Q with the same fence, per item: item i is
 * element i of every array. `t.id = ANY($1)` lets the planner find the rows by primary key
 * before it matches them to their items.
 */
export const BATCH = {
  getTasks: `SELECT t.* FROM tasks t
       JOIN unnest($1::text[], $2::text[]) AS v(tenant_id, id) ON t.tenant_id = v.tenant_id AND t.id = v.id
       WHERE t.id = ANY($2::text[])`,
  // Eligibility per item: tags and task types travel as JSON arrays, one per item.
  claimTasks: `UPDATE tasks AS t SET state = 'assigned', delegate_id = v.delegate_id, assigned_at = v.now, lease_expires_at = v.lease
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::text[])
         AS v(id, delegate_id, tags, types, now, lease, tenant_id)
       WHERE t.id = ANY($1::text[]) AND t.id = v.id AND t.tenant_id = v.tenant_id AND t.state = 'queued'
         AND t.selectors <@ ARRAY(SELECT jsonb_array_elements_text(v.tags::jsonb))
         AND t.type IN (SELECT jsonb_array_elements_text(v.types::jsonb))
       RETURNING t.*`,
  markRunning: `UPDATE tasks AS t SET state = 'running', started_at = v.now, lease_expires_at = v.lease
       FROM unnest($1::text[], $2::integer[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS v(id, attempt, delegate_id, now, lease)
       WHERE t.id = ANY($1::text[]) AND t.id = v.id AND t.attempt = v.attempt AND t.delegate_id = v.delegate_id AND t.state = 'assigned'
       RETURNING t.*`,
  completeTasks: `UPDATE tasks AS t SET state = v.state, result = v.result::jsonb, error = v.error::jsonb, ended_at = v.now,
         started_at = COALESCE(t.started_at, v.started_at), lease_expires_at = NULL
       FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::timestamptz[])
         AS v(id, attempt, delegate_id, state, result, error, now, started_at)
       WHERE t.id = ANY($1::text[]) AND t.id = v.id AND t.attempt = v.attempt AND t.delegate_id = v.delegate_id AND t.state IN ${ACTIVE}
       RETURNING t.*`,
  // Which of these delegates have a queued task they could take: the empty answer of claimNext
  // (a pump that finds nothing, the common case while new tasks are placed as they arrive) for
  // many delegates in one read. The arrays are built once per item, not per task row.
  delegateNames: `SELECT d.tenant_id, d.id, d.name FROM delegates d
       JOIN unnest($1::text[], $2::text[]) AS v(tenant_id, id) ON d.tenant_id = v.tenant_id AND d.id = v.id
       WHERE d.id = ANY($2::text[])`,
  openTaskUsage: `SELECT tenant_id, COUNT(*)::int AS tasks, COALESCE(SUM(payload_bytes), 0)::bigint AS bytes FROM tasks
       WHERE tenant_id = ANY($1::text[]) AND state IN ('queued', 'assigned', 'running')
       GROUP BY tenant_id`,
} as const;

/** Store.identity: users, sessions, API keys, sign-in attempts, tenants' status. */
export const IDENTITY = {
  insertUser: `INSERT INTO users (id, tenant_id, email, name, role, status, password_hash, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
  listTenants: 'SELECT * FROM tenants WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2',
  setTenantStatus: `UPDATE tenants SET status = $2,
         suspended_at = CASE WHEN $2 = 'suspended' THEN COALESCE(suspended_at, $3) ELSE NULL END
       WHERE id = $1 RETURNING *`,
  createApiKey: `INSERT INTO api_keys (id, tenant_id, name, role, prefix, hash, created_at, last_used_at, expires_at, revoked_at,
           previous_hash, previous_valid_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
  listApiKeys: 'SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id',
  findApiKeyByHash: `SELECT *, CASE WHEN hash = $1 THEN 'current' ELSE 'previous' END AS matched FROM api_keys
       WHERE hash = $1 OR previous_hash = $1 ORDER BY (hash = $1) DESC LIMIT 1`,
  rotateApiKey: `UPDATE api_keys SET previous_hash = CASE WHEN $5::timestamptz IS NULL THEN NULL ELSE hash END,
           previous_valid_until = $5, hash = $3, prefix = $4
         WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING *`,
  revokeApiKey: 'UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2 RETURNING *',
  touchApiKey: 'UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)',
  getUser: 'SELECT * FROM users WHERE tenant_id = $1 AND id = $2',
  listUsers: 'SELECT * FROM users WHERE tenant_id = $1 ORDER BY email, id',
  findUsersByEmail: `SELECT u.*, ${TENANT_COLUMNS} FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = $1 ORDER BY t.id`,
  lockTenant: 'SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE',
  getUserForChange: 'SELECT * FROM users WHERE tenant_id = $1 AND id = $2',
  otherActiveAdmins: `SELECT COUNT(*)::int AS n FROM users WHERE tenant_id = $1 AND id <> $2 AND role = 'admin' AND status = 'active'`,
  updateUser: `UPDATE users SET name = COALESCE($3, name), role = COALESCE($4, role), status = COALESCE($5, status),
           password_hash = CASE WHEN $6 THEN $7 ELSE password_hash END, updated_at = $8
         WHERE tenant_id = $1 AND id = $2 RETURNING *`,
  deleteSessionsOfUser: 'DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2',
  deleteUser: 'DELETE FROM users WHERE tenant_id = $1 AND id = $2 RETURNING *',
  createSession: 'INSERT INTO sessions (id_hash, tenant_id, user_id, created_at, last_seen_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
  findSession: `SELECT s.id_hash, s.created_at AS s_created_at, s.last_seen_at, s.expires_at, s.revoked_at, u.*, ${TENANT_COLUMNS}
       FROM sessions s JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id JOIN tenants t ON t.id = s.tenant_id
       WHERE s.id_hash = $1`,
  touchSession: 'UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2',
  revokeSession: 'UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id_hash = $1',
  revokeUserSessions: 'UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL',
  recordLoginAttempt: 'INSERT INTO login_attempts (bucket, at) VALUES ($1, $2)',
  countLoginAttempts: 'SELECT COUNT(*)::int AS n, MIN(at) AS oldest FROM login_attempts WHERE bucket = $1 AND at >= $2',
  clearLoginAttempts: 'DELETE FROM login_attempts WHERE bucket = $1',
  pruneLoginAttempts: 'DELETE FROM login_attempts WHERE at < $1',
  pruneSessions: 'DELETE FROM sessions WHERE expires_at < $1',
} as const;

/** Store.oidc: tenants' OIDC providers and the sign-ins in progress. */
export const OIDC = {
  findTenantByName: 'SELECT * FROM tenants WHERE name = $1',
  putOidcConfig: `INSERT INTO oidc_configs (tenant_id, issuer, client_id, client_secret_sealed, allowed_email_domains, scopes, role_claim,
         role_mapping, default_role, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8::jsonb, $9, $10, $11)
       ON CONFLICT (tenant_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
         client_secret_sealed = excluded.client_secret_sealed, allowed_email_domains = excluded.allowed_email_domains,
         scopes = excluded.scopes, role_claim = excluded.role_claim, role_mapping = excluded.role_mapping, default_role = excluded.default_role,
         updated_at = excluded.updated_at
       RETURNING *`,
  getOidcConfig: 'SELECT * FROM oidc_configs WHERE tenant_id = $1',
  deleteOidcConfig: 'DELETE FROM oidc_configs WHERE tenant_id = $1',
  createOidcLogin: `INSERT INTO oidc_logins (state_hash, tenant_id, browser_hash, nonce, code_verifier, return_to, cli, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9)`,
  takeOidcLogin: 'DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING *',
  pruneOidcLogins: 'DELETE FROM oidc_logins WHERE expires_at < $1',
  createCliCode: `INSERT INTO oidc_cli_codes (code_hash, tenant_id, user_id, code_challenge, redirect_uri, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
  takeCliCode: 'DELETE FROM oidc_cli_codes WHERE code_hash = $1 RETURNING *',
  pruneCliCodes: 'DELETE FROM oidc_cli_codes WHERE expires_at < $1',
} as const;

/** Store.audit: append, list, retention's delete. */
export const AUDIT = {
  append: `INSERT INTO audit_entries (id, tenant_id, at, actor, actor_keys, role, client_address, user_agent, action,
         target_type, target_id, target_name, outcome, diff, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
  list: `SELECT * FROM audit_entries WHERE tenant_id = $1
         AND ($2::text IS NULL OR id < $2)
         AND ($3::text IS NULL OR action = $3)
         AND ($4::text IS NULL OR strpos(actor_keys, ' ' || $4 || ' ') > 0)
         AND ($5::text IS NULL OR target_id = $5 OR target_name = $5)
         AND ($6::timestamptz IS NULL OR at >= $6)
         AND ($7::timestamptz IS NULL OR at < $7)
       ORDER BY id DESC LIMIT $8`,
  /** `append` for many entries in one statement: the same columns, one array each. */
  appendMany: `INSERT INTO audit_entries (id, tenant_id, at, actor, actor_keys, role, client_address, user_agent, action,
         target_type, target_id, target_name, outcome, diff, details)
       SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::text[], $6::text[], $7::text[], $8::text[],
         $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::jsonb[], $15::jsonb[])`,
  deleteOlderThan: `DELETE FROM audit_entries WHERE id IN (SELECT id FROM audit_entries WHERE at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
} as const;

const TASK_COLUMN_COUNT = 23;

/** `insertTask` for `rows` tasks in one statement: the same columns, `rows` value lists. */
export function insertTasks(rows: number): string {
  const values = Array.from({ length: rows }, (_, r) => `(${Array.from({ length: TASK_COLUMN_COUNT }, (_, c) => `$${r * TASK_COLUMN_COUNT + c + 1}`).join(', ')})`);
  return `${Q.insertTask.slice(0, Q.insertTask.indexOf('VALUES'))}VALUES ${values.join(', ')}`;
}
