import type pg from 'pg';

export interface Migration {
  version: number;
  description: string;
  sql: string;
}

/**
 * Ordered, append-only: a released step is never edited, a change is a new step.
 *
 * Choices that differ from the SQLite schema, and why:
 * - Times are `timestamptz` (node-postgres maps them to and from `Date`, and they read well in psql).
 * - Tags, selectors and task types are `text[]`, so the claim matches with array containment
 *   (`selectors <@ tags`); JSON-shaped fields are `jsonb`.
 * - Ids and names use the "C" collation: ordering (the task list's id cursor, name order) must be
 *   byte order on every backend, whatever locale the database was created with.
 * - The scans the control plane runs all the time (the queue claim, lease expiry, a delegate's
 *   active tasks) have partial indexes over exactly the rows they look at, so they stay small as
 *   finished tasks pile up.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'tenants, keys, tokens, delegates, tasks, accounts',
    sql: `
      CREATE TABLE tenants (
        id          text COLLATE "C" PRIMARY KEY,
        name        text COLLATE "C" NOT NULL UNIQUE,
        external_id text NOT NULL,
        created_at  timestamptz NOT NULL
      );

      CREATE TABLE api_keys (
        id         text COLLATE "C" PRIMARY KEY,
        tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        hash       text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL
      );
      CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

      CREATE TABLE delegate_tokens (
        id         text COLLATE "C" PRIMARY KEY,
        tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name       text COLLATE "C" NOT NULL,
        hash       text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL,
        revoked_at timestamptz
      );
      CREATE INDEX delegate_tokens_tenant ON delegate_tokens (tenant_id, created_at, id);

      -- token_id carries no foreign key: a delegate row is presence history and outlives nothing
      -- it would need to cascade from but its tenant.
      CREATE TABLE delegates (
        id                text COLLATE "C" PRIMARY KEY,
        tenant_id         text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        token_id          text COLLATE "C" NOT NULL,
        name              text COLLATE "C" NOT NULL,
        instance_id       text NOT NULL,
        tags              text[] NOT NULL,
        task_types        text[] NOT NULL,
        max_concurrency   integer NOT NULL,
        version           text NOT NULL,
        transport         text NOT NULL,
        status            text NOT NULL,
        in_flight         integer NOT NULL,
        replica_id        text NOT NULL,
        connected_at      timestamptz NOT NULL,
        last_heartbeat_at timestamptz NOT NULL,
        disconnected_at   timestamptz
      );
      CREATE INDEX delegates_tenant ON delegates (tenant_id, status);
      CREATE INDEX delegates_replica ON delegates (replica_id) WHERE status <> 'disconnected';

      -- account_id is not a foreign key: deleting an account must not rewrite or block the
      -- history of the tasks that validated it.
      CREATE TABLE tasks (
        id                    text COLLATE "C" PRIMARY KEY,
        tenant_id             text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        type                  text NOT NULL,
        payload               jsonb NOT NULL,
        selectors             text[] NOT NULL,
        priority              integer NOT NULL,
        state                 text NOT NULL,
        attempt               integer NOT NULL,
        max_attempts          integer NOT NULL,
        delegate_id           text COLLATE "C",
        queue_timeout_seconds integer NOT NULL,
        run_timeout_seconds   integer NOT NULL,
        result                jsonb,
        error                 jsonb,
        account_id            text COLLATE "C",
        created_at            timestamptz NOT NULL,
        queued_at             timestamptz NOT NULL,
        assigned_at           timestamptz,
        started_at            timestamptz,
        ended_at              timestamptz,
        lease_expires_at      timestamptz
      );
      -- The claim: a tenant's queued tasks in claim order, so LIMIT 1 reads the head of the index.
      CREATE INDEX tasks_queue ON tasks (tenant_id, priority DESC, queued_at, id) WHERE state = 'queued';
      -- Queue-timeout scan over all tenants.
      CREATE INDEX tasks_queued_at ON tasks (queued_at) WHERE state = 'queued';
      -- Listing newest first with an id cursor.
      CREATE INDEX tasks_tenant_id ON tasks (tenant_id, id);
      -- Lease expiry and run timeouts look only at active tasks.
      CREATE INDEX tasks_active_lease ON tasks (lease_expires_at) WHERE state IN ('assigned', 'running');
      -- Lease extension and the tasks a delegate holds.
      CREATE INDEX tasks_active_delegate ON tasks (delegate_id) WHERE state IN ('assigned', 'running');
      -- Global statistics (metrics).
      CREATE INDEX tasks_type_state ON tasks (type, state);

      CREATE TABLE aws_accounts (
        id                 text COLLATE "C" PRIMARY KEY,
        tenant_id          text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        name               text COLLATE "C" NOT NULL,
        description        text NOT NULL,
        partition          text NOT NULL,
        auth               jsonb NOT NULL,
        test_region        text NOT NULL,
        delegate_selectors text[] NOT NULL,
        endpoints          jsonb NOT NULL,
        status             text NOT NULL,
        last_task_id       text COLLATE "C",
        last_checked_at    timestamptz,
        aws_account_id     text,
        arn                text,
        last_error         jsonb,
        created_at         timestamptz NOT NULL,
        updated_at         timestamptz NOT NULL,
        UNIQUE (tenant_id, name)
      );
    `,
  },
  {
    version: 2,
    description: 'account gateway and chosen IAM policies; delegate identities for role setup',
    sql: `
      ALTER TABLE aws_accounts ADD COLUMN gateway text;
      ALTER TABLE aws_accounts ADD COLUMN policy_arns text[] NOT NULL DEFAULT '{}';

      -- Keyed by group, not by delegate id: replicas of a group come and go, the identity stays.
      CREATE TABLE delegate_identities (
        tenant_id      text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        group_name     text COLLATE "C" NOT NULL,
        partition      text COLLATE "C" NOT NULL,
        arn            text NOT NULL,
        aws_account_id text NOT NULL,
        task_id        text NOT NULL,
        reported_at    timestamptz NOT NULL,
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
        tenant_id       text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        group_name      text COLLATE "C" NOT NULL,
        key_id          text COLLATE "C" NOT NULL,
        algorithm       text NOT NULL,
        public_key      text NOT NULL,
        first_seen_at   timestamptz NOT NULL,
        last_seen_at    timestamptz NOT NULL,
        last_current_at timestamptz,
        PRIMARY KEY (tenant_id, group_name, key_id)
      );
    `,
  },
  {
    version: 4,
    description: 'delegate connection ids, so a replaced connection cannot end its successor',
    sql: `ALTER TABLE delegates ADD COLUMN session_id text NOT NULL DEFAULT '';`,
  },
  {
    version: 5,
    description: 'trust in delegate group keys: a key announced without a trusted one waits for an admin',
    sql: `ALTER TABLE delegate_group_keys ADD COLUMN trusted boolean NOT NULL DEFAULT true;`,
  },
  {
    version: 6,
    description: "delegate policies: what each delegate's installer lets it read and reach, as its Hello reported it",
    sql: `ALTER TABLE delegates ADD COLUMN policy jsonb;`,
  },
  {
    version: 7,
    description: 'delegate tokens bound to a group and a set of tags',
    sql: `
      ALTER TABLE delegate_tokens ADD COLUMN group_name text COLLATE "C";
      -- NULL allows any tags.
      ALTER TABLE delegate_tokens ADD COLUMN bound_tags text[];
      -- Every registration of a token not bound to a group asks whether its group name is owned.
      CREATE INDEX delegate_tokens_bound_group ON delegate_tokens (tenant_id, group_name)
        WHERE group_name IS NOT NULL AND revoked_at IS NULL;
    `,
  },
  {
    version: 8,
    description: 'account ids unique per tenant; task payload sizes for quotas; index for retention',
    sql: `
      -- A client-chosen account id (needed for sealed values) must neither collide with nor reveal
      -- another tenant's: the key is (tenant_id, id).
      ALTER TABLE aws_accounts DROP CONSTRAINT aws_accounts_pkey;
      ALTER TABLE aws_accounts ADD PRIMARY KEY (tenant_id, id);

      -- Bytes of the stored payload, so a tenant's queued payload total is a sum over an index.
      ALTER TABLE tasks ADD COLUMN payload_bytes integer NOT NULL DEFAULT 0;
      UPDATE tasks SET payload_bytes = octet_length(payload::text) WHERE state IN ('queued', 'assigned', 'running');
      -- Quotas: a tenant's tasks that have not ended (count and payload bytes from the index alone).
      CREATE INDEX tasks_tenant_open ON tasks (tenant_id) INCLUDE (payload_bytes) WHERE state IN ('queued', 'assigned', 'running');
      -- Retention: ended tasks, oldest first.
      CREATE INDEX tasks_ended_at ON tasks (ended_at) WHERE ended_at IS NOT NULL;
    `,
  },
  {
    version: 9,
    description: 'users, sessions, API keys with roles and a lifecycle, tenant suspension, sign-in throttling',
    sql: `
      ALTER TABLE tenants ADD COLUMN status text NOT NULL DEFAULT 'active';
      ALTER TABLE tenants ADD COLUMN suspended_at timestamptz;

      -- Keys created before roles existed were each tenant's only key: they stay admin keys.
      ALTER TABLE api_keys ADD COLUMN name text COLLATE "C" NOT NULL DEFAULT 'initial admin key';
      ALTER TABLE api_keys ADD COLUMN role text NOT NULL DEFAULT 'admin';
      ALTER TABLE api_keys ADD COLUMN prefix text NOT NULL DEFAULT 'atk_';
      ALTER TABLE api_keys ADD COLUMN last_used_at timestamptz;
      ALTER TABLE api_keys ADD COLUMN expires_at timestamptz;
      ALTER TABLE api_keys ADD COLUMN revoked_at timestamptz;
      ALTER TABLE api_keys ADD COLUMN previous_hash text;
      ALTER TABLE api_keys ADD COLUMN previous_valid_until timestamptz;
      CREATE UNIQUE INDEX api_keys_previous_hash ON api_keys (previous_hash) WHERE previous_hash IS NOT NULL;

      CREATE TABLE users (
        id            text COLLATE "C" PRIMARY KEY,
        tenant_id     text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        email         text COLLATE "C" NOT NULL,
        name          text NOT NULL,
        role          text NOT NULL,
        status        text NOT NULL,
        password_hash text,
        created_at    timestamptz NOT NULL,
        updated_at    timestamptz NOT NULL,
        UNIQUE (tenant_id, email)
      );
      -- Sign-in by email alone looks across tenants.
      CREATE INDEX users_email ON users (email);

      CREATE TABLE sessions (
        id_hash      text PRIMARY KEY,
        tenant_id    text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        user_id      text COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at   timestamptz NOT NULL,
        last_seen_at timestamptz NOT NULL,
        expires_at   timestamptz NOT NULL,
        revoked_at   timestamptz
      );
      CREATE INDEX sessions_user ON sessions (tenant_id, user_id);

      -- Buckets name an account (email) or a client address; rows older than the longest window go.
      CREATE TABLE login_attempts (
        bucket text NOT NULL,
        at     timestamptz NOT NULL
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
        id             text COLLATE "C" PRIMARY KEY,
        tenant_id      text COLLATE "C" NOT NULL,
        at             timestamptz NOT NULL,
        actor          jsonb NOT NULL,
        -- Every identifier of the actor, space separated with one at each end, for the actor filter.
        actor_keys     text NOT NULL,
        role           text,
        client_address text,
        user_agent     text,
        action         text NOT NULL,
        target_type    text NOT NULL,
        target_id      text,
        target_name    text,
        outcome        text NOT NULL,
        diff           jsonb NOT NULL,
        details        jsonb NOT NULL
      );
      CREATE INDEX audit_entries_tenant ON audit_entries (tenant_id, id);
      CREATE INDEX audit_entries_at ON audit_entries (at);

      ALTER TABLE tasks ADD COLUMN requested_by jsonb;
    `,
  },
  {
    version: 11,
    description: 'OIDC sign-in: per-tenant identity provider, sign-ins in progress',
    sql: `
      CREATE TABLE oidc_configs (
        tenant_id             text COLLATE "C" PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
        issuer                text NOT NULL,
        client_id             text NOT NULL,
        client_secret_sealed  text,
        allowed_email_domains jsonb NOT NULL,
        scopes                jsonb NOT NULL,
        role_claim            text NOT NULL,
        role_mapping          jsonb NOT NULL,
        default_role          text,
        created_at            timestamptz NOT NULL,
        updated_at            timestamptz NOT NULL
      );

      CREATE TABLE oidc_logins (
        state_hash    text PRIMARY KEY,
        tenant_id     text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        browser_hash  text NOT NULL,
        nonce         text NOT NULL,
        code_verifier text NOT NULL,
        return_to     text NOT NULL,
        created_at    timestamptz NOT NULL,
        expires_at    timestamptz NOT NULL
      );
      CREATE INDEX oidc_logins_expires_at ON oidc_logins (expires_at);
    `,
  },
  {
    version: 12,
    description: 'CLI sign-in through the browser: the CLI binding of a sign-in, one-time codes for the loopback redirect',
    sql: `
      ALTER TABLE oidc_logins ADD COLUMN cli jsonb;

      CREATE TABLE oidc_cli_codes (
        code_hash      text PRIMARY KEY,
        tenant_id      text COLLATE "C" NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        user_id        text COLLATE "C" NOT NULL,
        code_challenge text NOT NULL,
        redirect_uri   text NOT NULL,
        created_at     timestamptz NOT NULL,
        expires_at     timestamptz NOT NULL
      );
      CREATE INDEX oidc_cli_codes_expires_at ON oidc_cli_codes (expires_at);
    `,
  },
];

/**
 * Any constant shared by every replica works; this one is "attache1" in ASCII, so it is easy to
 * recognise in pg_locks and unlikely to collide with another application's advisory locks.
 */
export const MIGRATION_LOCK_KEY = 0x6174746163686531n.toString();

export async function schemaVersion(db: pg.ClientBase): Promise<number> {
  const { rows } = await db.query<{ v: number }>('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations');
  return rows[0]?.v ?? 0;
}

/**
 * Applies the steps newer than the recorded version. Replicas starting together serialise on a
 * session advisory lock (held on one connection for the whole run, released even when a step
 * fails, and by the server if this process dies); each step commits together with its version row,
 * so a crash between steps leaves a consistent, resumable schema. PostgreSQL's DDL is transactional,
 * which is what makes "step + version row" atomic.
 */
export async function migrate(pool: pg.Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version    integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      for (const step of [...migrations].sort((a, b) => a.version - b.version)) {
        if ((await schemaVersion(client)) >= step.version) continue;
        await client.query('BEGIN');
        try {
          await client.query(step.sql);
          await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [step.version]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw new Error(`schema migration ${step.version} (${step.description}) failed: ${(err as Error).message}`, {
            cause: err,
          });
        }
      }
      return await schemaVersion(client);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]).catch((err: Error) => {
        // A connection that cannot unlock must not go back to the pool still holding the lock.
        broken = err;
      });
    }
  } catch (err) {
    broken ??= err as Error;
    throw err;
  } finally {
    client.release(broken);
  }
}
