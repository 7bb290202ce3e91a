import type Database from 'better-sqlite3';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/**
 * Ordered, append-only: a released step is never edited, a change is a new step. Times are epoch
 * milliseconds; JSON-shaped fields are TEXT holding JSON so SQLite's json_each can read them in the
 * claim query.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'tenants, keys, tokens, delegates, tasks, accounts',
    sql: `
      CREATE TABLE tenants (
        id          TEXT PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE,
        external_id TEXT NOT NULL,
        created_at  INTEGER NOT NULL
      );

      CREATE TABLE api_keys (
        id         TEXT PRIMARY KEY,
        tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        hash       TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

      CREATE TABLE delegate_tokens (
        id         TEXT PRIMARY KEY,
        tenant_id  TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name       TEXT NOT NULL,
        hash       TEXT NOT NULL UNIQUE,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
      CREATE INDEX delegate_tokens_tenant ON delegate_tokens (tenant_id, created_at);

      -- token_id carries no foreign key: a delegate row is presence history and outlives nothing
      -- it would need to cascade from but its tenant.
      CREATE TABLE delegates (
        id                TEXT PRIMARY KEY,
        tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        token_id          TEXT NOT NULL,
        name              TEXT NOT NULL,
        instance_id       TEXT NOT NULL,
        tags              TEXT NOT NULL,
        task_types        TEXT NOT NULL,
        max_concurrency   INTEGER NOT NULL,
        version           TEXT NOT NULL,
        transport         TEXT NOT NULL,
        status            TEXT NOT NULL,
        in_flight         INTEGER NOT NULL,
        replica_id        TEXT NOT NULL,
        connected_at      INTEGER NOT NULL,
        last_heartbeat_at INTEGER NOT NULL,
        disconnected_at   INTEGER
      );
      CREATE INDEX delegates_tenant ON delegates (tenant_id, status);
      CREATE INDEX delegates_replica ON delegates (replica_id, status);

      -- account_id is not a foreign key: deleting an account must not rewrite or block the
      -- history of the tasks that validated it.
      CREATE TABLE tasks (
        id                    TEXT PRIMARY KEY,
        tenant_id             TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        type                  TEXT NOT NULL,
        payload               TEXT NOT NULL,
        selectors             TEXT NOT NULL,
        priority              INTEGER NOT NULL,
        state                 TEXT NOT NULL,
        attempt               INTEGER NOT NULL,
        max_attempts          INTEGER NOT NULL,
        delegate_id           TEXT,
        queue_timeout_seconds INTEGER NOT NULL,
        run_timeout_seconds   INTEGER NOT NULL,
        result                TEXT,
        error                 TEXT,
        account_id            TEXT,
        created_at            INTEGER NOT NULL,
        queued_at             INTEGER NOT NULL,
        assigned_at           INTEGER,
        started_at            INTEGER,
        ended_at              INTEGER,
        lease_expires_at      INTEGER
      );
      -- The claim: best queued task of a tenant.
      CREATE INDEX tasks_queue ON tasks (tenant_id, state, priority DESC, queued_at, id);
      -- Listing newest first with an id cursor.
      CREATE INDEX tasks_tenant_id ON tasks (tenant_id, id);
      -- Lease expiry, queue and run timeout scans, global stats: all start from the state.
      CREATE INDEX tasks_state_lease ON tasks (state, lease_expires_at);
      CREATE INDEX tasks_state_type ON tasks (state, type);
      -- Lease extension and the tasks a delegate holds.
      CREATE INDEX tasks_delegate ON tasks (delegate_id, state);

      CREATE TABLE aws_accounts (
        id                TEXT PRIMARY KEY,
        tenant_id         TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name              TEXT NOT NULL,
        description       TEXT NOT NULL,
        partition         TEXT NOT NULL,
        auth              TEXT NOT NULL,
        test_region       TEXT NOT NULL,
        delegate_selectors TEXT NOT NULL,
        endpoints         TEXT NOT NULL,
        status            TEXT NOT NULL,
        last_task_id      TEXT,
        last_checked_at   INTEGER,
        aws_account_id    TEXT,
        arn               TEXT,
        last_error        TEXT,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        UNIQUE (tenant_id, name)
      );
    `,
  },
  {
    version: 2,
    description: 'account gateway and chosen IAM policies; delegate identities for role setup',
    sql: `
      ALTER TABLE aws_accounts ADD COLUMN gateway TEXT;
      ALTER TABLE aws_accounts ADD COLUMN policy_arns TEXT NOT NULL DEFAULT '[]';

      -- Keyed by group, not by delegate id: replicas of a group come and go, the identity stays.
      CREATE TABLE delegate_identities (
        tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        group_name      TEXT NOT NULL,
        partition       TEXT NOT NULL,
        arn             TEXT NOT NULL,
        aws_account_id  TEXT NOT NULL,
        task_id         TEXT NOT NULL,
        reported_at     INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, group_name, partition)
      );
    `,
  },
  {
    version: 3,
    description: 'delegate group public keys for sealed values',
    sql: `
      -- Public halves only: the private keys never leave the delegates.
      CREATE TABLE delegate_group_keys (
        tenant_id       TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        group_name      TEXT NOT NULL,
        key_id          TEXT NOT NULL,
        algorithm       TEXT NOT NULL,
        public_key      TEXT NOT NULL,
        first_seen_at   INTEGER NOT NULL,
        last_seen_at    INTEGER NOT NULL,
        last_current_at INTEGER,
        PRIMARY KEY (tenant_id, group_name, key_id)
      );
    `,
  },
  {
    version: 4,
    description: 'delegate connection ids, so a replaced connection cannot end its successor',
    sql: `ALTER TABLE delegates ADD COLUMN session_id TEXT NOT NULL DEFAULT '';`,
  },
  {
    version: 5,
    description: 'trust in delegate group keys: a key announced without a trusted one waits for an admin',
    sql: `ALTER TABLE delegate_group_keys ADD COLUMN trusted INTEGER NOT NULL DEFAULT 1;`,
  },
  {
    version: 6,
    description: "delegate policies: what each delegate's installer lets it read and reach, as its Hello reported it",
    sql: `ALTER TABLE delegates ADD COLUMN policy TEXT;`,
  },
  {
    version: 7,
    description: 'delegate tokens bound to a group and a set of tags',
    sql: `
      ALTER TABLE delegate_tokens ADD COLUMN group_name TEXT;
      -- JSON array of tags; NULL allows any.
      ALTER TABLE delegate_tokens ADD COLUMN bound_tags TEXT;
      -- Every registration of a token not bound to a group asks whether its group name is owned.
      CREATE INDEX delegate_tokens_bound_group ON delegate_tokens (tenant_id, group_name)
        WHERE group_name IS NOT NULL AND revoked_at IS NULL;
    `,
  },
  {
    version: 8,
    description: 'account ids unique per tenant; task payload sizes for quotas; index for retention',
    sql: `
      -- The primary key becomes (tenant_id, id): a client-chosen account id (needed for sealed
      -- values) must neither collide with nor reveal another tenant's. SQLite cannot change a
      -- primary key in place, so the table is rebuilt; nothing references it.
      CREATE TABLE aws_accounts_v8 (
        id                 TEXT NOT NULL,
        tenant_id          TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name               TEXT NOT NULL,
        description        TEXT NOT NULL,
        partition          TEXT NOT NULL,
        auth               TEXT NOT NULL,
        test_region        TEXT NOT NULL,
        delegate_selectors TEXT NOT NULL,
        endpoints          TEXT NOT NULL,
        status             TEXT NOT NULL,
        last_task_id       TEXT,
        last_checked_at    INTEGER,
        aws_account_id     TEXT,
        arn                TEXT,
        last_error         TEXT,
        created_at         INTEGER NOT NULL,
        updated_at         INTEGER NOT NULL,
        gateway            TEXT,
        policy_arns        TEXT NOT NULL DEFAULT '[]',
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, name)
      );
      INSERT INTO aws_accounts_v8 (id, tenant_id, name, description, partition, auth, test_region,
          delegate_selectors, endpoints, status, last_task_id, last_checked_at, aws_account_id, arn,
          last_error, created_at, updated_at, gateway, policy_arns)
        SELECT id, tenant_id, name, description, partition, auth, test_region, delegate_selectors,
          endpoints, status, last_task_id, last_checked_at, aws_account_id, arn, last_error,
          created_at, updated_at, gateway, policy_arns
        FROM aws_accounts;
      DROP TABLE aws_accounts;
      ALTER TABLE aws_accounts_v8 RENAME TO aws_accounts;

      -- Bytes of the stored payload, so a tenant's queued payload total is a sum over an index.
      ALTER TABLE tasks ADD COLUMN payload_bytes INTEGER NOT NULL DEFAULT 0;
      UPDATE tasks SET payload_bytes = length(CAST(payload AS BLOB)) WHERE state IN ('queued', 'assigned', 'running');
      -- Quotas: a tenant's tasks that have not ended (count and payload bytes from the index alone).
      CREATE INDEX tasks_tenant_open ON tasks (tenant_id, state, payload_bytes) WHERE state IN ('queued', 'assigned', 'running');
      -- Retention: ended tasks, oldest first.
      CREATE INDEX tasks_ended_at ON tasks (ended_at) WHERE ended_at IS NOT NULL;
    `,
  },
  {
    version: 9,
    description: 'users, sessions, API keys with roles and a lifecycle, tenant suspension, sign-in throttling',
    sql: `
      ALTER TABLE tenants ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
      ALTER TABLE tenants ADD COLUMN suspended_at INTEGER;

      -- Keys created before roles existed were each tenant's only key: they stay admin keys.
      ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT 'initial admin key';
      ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
      ALTER TABLE api_keys ADD COLUMN prefix TEXT NOT NULL DEFAULT 'atk_';
      ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
      ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
      ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;
      ALTER TABLE api_keys ADD COLUMN previous_hash TEXT;
      ALTER TABLE api_keys ADD COLUMN previous_valid_until INTEGER;
      CREATE UNIQUE INDEX api_keys_previous_hash ON api_keys (previous_hash) WHERE previous_hash IS NOT NULL;

      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        email         TEXT NOT NULL,
        name          TEXT NOT NULL,
        role          TEXT NOT NULL,
        status        TEXT NOT NULL,
        password_hash TEXT,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL,
        UNIQUE (tenant_id, email)
      );
      -- Sign-in by email alone looks across tenants.
      CREATE INDEX users_email ON users (email);

      CREATE TABLE sessions (
        id_hash      TEXT PRIMARY KEY,
        tenant_id    TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at   INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at   INTEGER NOT NULL,
        revoked_at   INTEGER
      );
      CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

      -- Buckets name an account (email) or a client address; rows older than the longest window go.
      CREATE TABLE login_attempts (
        bucket TEXT NOT NULL,
        at     INTEGER NOT NULL
      );
      CREATE INDEX login_attempts_bucket ON login_attempts (bucket, at);
      CREATE INDEX login_attempts_at ON login_attempts (at);
    `,
  },
  {
    version: 10,
    description: 'the audit trail, and who asked for each task',
    sql: `
      -- Append-only: the store has no UPDATE for it, and DELETE only for retention. No foreign key
      -- to tenants, so a tenant's trail outlives the tenant.
      CREATE TABLE audit_entries (
        id             TEXT PRIMARY KEY,
        tenant_id      TEXT NOT NULL,
        at             INTEGER NOT NULL,
        actor          TEXT NOT NULL,
        -- Every identifier of the actor, space separated with one at each end, for the actor filter.
        actor_keys     TEXT NOT NULL,
        role           TEXT,
        client_address TEXT,
        user_agent     TEXT,
        action         TEXT NOT NULL,
        target_type    TEXT NOT NULL,
        target_id      TEXT,
        target_name    TEXT,
        outcome        TEXT NOT NULL,
        diff           TEXT NOT NULL,
        details        TEXT NOT NULL
      );
      CREATE INDEX audit_entries_tenant ON audit_entries (tenant_id, id);
      CREATE INDEX audit_entries_at ON audit_entries (at);

      ALTER TABLE tasks ADD COLUMN requested_by TEXT;
    `,
  },
  {
    version: 11,
    description: 'OIDC sign-in: per-tenant identity provider, sign-ins in progress',
    sql: `
      CREATE TABLE oidc_configs (
        tenant_id             TEXT PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
        issuer                TEXT NOT NULL,
        client_id             TEXT NOT NULL,
        client_secret_sealed  TEXT,
        allowed_email_domains TEXT NOT NULL,
        scopes                TEXT NOT NULL,
        role_claim            TEXT NOT NULL,
        role_mapping          TEXT NOT NULL,
        default_role          TEXT,
        created_at            INTEGER NOT NULL,
        updated_at            INTEGER NOT NULL
      );

      CREATE TABLE oidc_logins (
        state_hash    TEXT PRIMARY KEY,
        tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        browser_hash  TEXT NOT NULL,
        nonce         TEXT NOT NULL,
        code_verifier TEXT NOT NULL,
        return_to     TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        expires_at    INTEGER NOT NULL
      );
      CREATE INDEX oidc_logins_expires_at ON oidc_logins (expires_at);
    `,
  },
  {
    version: 12,
    description: 'CLI sign-in through the browser: the CLI binding of a sign-in, one-time codes for the loopback redirect',
    sql: `
      ALTER TABLE oidc_logins ADD COLUMN cli TEXT;

      CREATE TABLE oidc_cli_codes (
        code_hash      TEXT PRIMARY KEY,
        tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        user_id        TEXT NOT NULL,
        code_challenge TEXT NOT NULL,
        redirect_uri   TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        expires_at     INTEGER NOT NULL
      );
      CREATE INDEX oidc_cli_codes_expires_at ON oidc_cli_codes (expires_at);
    `,
  },
  {
    version: 13,
    description: 'task indexes that hold only the states they serve, so fewer entries move on each transition',
    sql: `
      -- The claim reads only queued tasks; lease, timeout and delegate scans only active ones. As
      -- partial indexes, a task's transitions touch an index only when it enters or leaves its states.
      DROP INDEX tasks_queue;
      CREATE INDEX tasks_queue ON tasks (tenant_id, priority DESC, queued_at, id) WHERE state = 'queued';
      DROP INDEX tasks_state_lease;
      CREATE INDEX tasks_active_lease ON tasks (lease_expires_at) WHERE state IN ('assigned', 'running');
      DROP INDEX tasks_delegate;
      CREATE INDEX tasks_delegate_active ON tasks (delegate_id) WHERE state IN ('assigned', 'running');
    `,
  },
];

export function schemaVersion(db: Database.Database): number {
  const row = db.prepare('SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations').get() as { v: number };
  return row.v;
}

/**
 * Applies the steps newer than the recorded version, each in its own IMMEDIATE transaction with
 * its version row, so a crash between steps leaves a consistent, resumable schema and two
 * processes starting on the same file cannot both apply a step.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL
  )`);
  const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
  const applyStep = db.transaction((step: Migration) => {
    // Re-checked inside the lock: another process may have applied it since we looked.
    if (schemaVersion(db) >= step.version) return;
    db.exec(step.sql);
    record.run(step.version, Date.now());
  });
  for (const step of [...migrations].sort((a, b) => a.version - b.version)) {
    if (schemaVersion(db) < step.version) applyStep.immediate(step);
  }
  return schemaVersion(db);
}
