import pg from 'pg';
import { removesActiveAdmin, type IdentityStore, type ListTenantsQuery } from '../identity-store.js';
import type { ApiKeyMatch, ApiKeyRecord, SessionRecord, TenantStatus, UserChange, UserPatch, UserRecord } from '../identity-records.js';
import type { Tenant } from '../records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { conflicting } from './conflicts.js';

const { tenantFromRow, apiKeyFromRow, userFromRow, sessionFromRow } = rowMappers({
  date: (v) => v as Date,
  json: <T>(v: unknown) => v as T,
});

type Db = pg.Pool | pg.PoolClient;
/** The owning PostgresStore's transaction runner (one connection, rolled back on any error). */
export type Transaction = <T>(fn: (db: pg.PoolClient) => Promise<T>) => Promise<T>;

const TENANT_COLUMNS = `t.id AS t_id, t.name AS t_name, t.external_id AS t_external_id, t.created_at AS t_created_at,
  t.status AS t_status, t.suspended_at AS t_suspended_at`;
const tenantOf = (r: Row): Tenant =>
  tenantFromRow({ id: r.t_id, name: r.t_name, external_id: r.t_external_id, created_at: r.t_created_at, status: r.t_status, suspended_at: r.t_suspended_at });

export const INSERT_USER = `INSERT INTO users (id, tenant_id, email, name, role, status, password_hash, created_at, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`;
export const userParams = (u: UserRecord): unknown[] => [u.id, u.tenantId, u.email, u.name, u.role, u.status, u.passwordHash, u.createdAt, u.updatedAt];

/** IdentityStore over the PostgresStore's pool. */
export class PostgresIdentityStore implements IdentityStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly transaction: Transaction,
  ) {}

  private async one(sql: string, params: unknown[], db: Db = this.pool): Promise<Row | undefined> {
    return (await db.query<Row>(sql, params)).rows[0];
  }

  private async all(sql: string, params: unknown[], db: Db = this.pool): Promise<Row[]> {
    return (await db.query<Row>(sql, params)).rows;
  }

  async listTenants(query: ListTenantsQuery): Promise<Tenant[]> {
    const rows = await this.all('SELECT * FROM tenants WHERE ($1::text IS NULL OR id > $1) ORDER BY id LIMIT $2', [query.afterId ?? null, query.limit]);
    return rows.map(tenantFromRow);
  }

  async setTenantStatus(id: string, status: TenantStatus, at: Date): Promise<Tenant | null> {
    const row = await this.one(
      `UPDATE tenants SET status = $2,
         suspended_at = CASE WHEN $2 = 'suspended' THEN COALESCE(suspended_at, $3) ELSE NULL END
       WHERE id = $1 RETURNING *`,
      [id, status, at],
    );
    return row ? tenantFromRow(row) : null;
  }

  async createApiKey(k: ApiKeyRecord): Promise<void> {
    await conflicting('API key', () =>
      this.pool.query(
        `INSERT INTO api_keys (id, tenant_id, name, role, prefix, hash, created_at, last_used_at, expires_at, revoked_at,
           previous_hash, previous_valid_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [k.id, k.tenantId, k.name, k.role, k.prefix, k.hash, k.createdAt, k.lastUsedAt, k.expiresAt, k.revokedAt, k.previousHash, k.previousValidUntil],
      ),
    );
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return (await this.all('SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, id', [tenantId])).map(apiKeyFromRow);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyMatch | null> {
    const row = await this.one(
      `SELECT *, CASE WHEN hash = $1 THEN 'current' ELSE 'previous' END AS matched FROM api_keys
       WHERE hash = $1 OR previous_hash = $1 ORDER BY (hash = $1) DESC LIMIT 1`,
      [hash],
    );
    return row ? { key: apiKeyFromRow(row), matched: row.matched as 'current' | 'previous' } : null;
  }

  async rotateApiKey(tenantId: string, id: string, secret: { hash: string; prefix: string }, previousValidUntil: Date | null): Promise<ApiKeyRecord | null> {
    const row = await conflicting('API key', () =>
      this.one(
        `UPDATE api_keys SET previous_hash = CASE WHEN $5::timestamptz IS NULL THEN NULL ELSE hash END,
           previous_valid_until = $5, hash = $3, prefix = $4
         WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL RETURNING *`,
        [tenantId, id, secret.hash, secret.prefix, previousValidUntil],
      ),
    );
    return row ? apiKeyFromRow(row) : null;
  }

  async revokeApiKey(tenantId: string, id: string, at: Date): Promise<ApiKeyRecord | null> {
    const row = await this.one('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE tenant_id = $1 AND id = $2 RETURNING *', [tenantId, id, at]);
    return row ? apiKeyFromRow(row) : null;
  }

  async touchApiKey(id: string, at: Date): Promise<void> {
    await this.pool.query('UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2)', [id, at]);
  }

  async createUser(user: UserRecord): Promise<void> {
    await conflicting('user', () => this.pool.query(INSERT_USER, userParams(user)));
  }

  async getUser(tenantId: string, id: string): Promise<UserRecord | null> {
    const row = await this.one('SELECT * FROM users WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return row ? userFromRow(row) : null;
  }

  async listUsers(tenantId: string): Promise<UserRecord[]> {
    return (await this.all('SELECT * FROM users WHERE tenant_id = $1 ORDER BY email, id', [tenantId])).map(userFromRow);
  }

  async findUsersByEmail(email: string): Promise<Array<{ user: UserRecord; tenant: Tenant }>> {
    const rows = await this.all(`SELECT u.*, ${TENANT_COLUMNS} FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = $1 ORDER BY t.id`, [email]);
    return rows.map((r) => ({ user: userFromRow(r), tenant: tenantOf(r) }));
  }

  /**
   * The tenant row is locked first, so changes to one tenant's users run one at a time across
   * replicas: two admins demoting each other cannot both see "another admin remains".
   */
  private guarded(tenantId: string, id: string, patch: UserPatch | 'delete', apply: (db: pg.PoolClient) => Promise<Row | undefined>): Promise<UserChange> {
    return this.transaction(async (db) => {
      await db.query('SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE', [tenantId]);
      const row = await this.one('SELECT * FROM users WHERE tenant_id = $1 AND id = $2', [tenantId, id], db);
      if (!row) return { ok: false, reason: 'not-found' } as const;
      const user = userFromRow(row);
      if (removesActiveAdmin(user, patch)) {
        const others = await this.one(
          `SELECT COUNT(*)::int AS n FROM users WHERE tenant_id = $1 AND id <> $2 AND role = 'admin' AND status = 'active'`,
          [tenantId, id],
          db,
        );
        if ((others?.n as number) === 0) return { ok: false, reason: 'last-admin' } as const;
      }
      const changed = await apply(db);
      return changed ? ({ ok: true, user: userFromRow(changed) } as const) : ({ ok: false, reason: 'not-found' } as const);
    });
  }

  updateUser(tenantId: string, id: string, patch: UserPatch, now: Date): Promise<UserChange> {
    return this.guarded(tenantId, id, patch, (db) =>
      this.one(
        `UPDATE users SET name = COALESCE($3, name), role = COALESCE($4, role), status = COALESCE($5, status),
           password_hash = CASE WHEN $6 THEN $7 ELSE password_hash END, updated_at = $8
         WHERE tenant_id = $1 AND id = $2 RETURNING *`,
        [tenantId, id, patch.name ?? null, patch.role ?? null, patch.status ?? null, patch.passwordHash !== undefined, patch.passwordHash ?? null, now],
        db,
      ),
    );
  }

  deleteUser(tenantId: string, id: string): Promise<UserChange> {
    return this.guarded(tenantId, id, 'delete', async (db) => {
      await db.query('DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2', [tenantId, id]);
      return this.one('DELETE FROM users WHERE tenant_id = $1 AND id = $2 RETURNING *', [tenantId, id], db);
    });
  }

  async createSession(s: SessionRecord): Promise<void> {
    await conflicting('session', () =>
      this.pool.query(
        'INSERT INTO sessions (id_hash, tenant_id, user_id, created_at, last_seen_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [s.idHash, s.tenantId, s.userId, s.createdAt, s.lastSeenAt, s.expiresAt, s.revokedAt],
      ),
    );
  }

  async findSession(idHash: string): Promise<{ session: SessionRecord; user: UserRecord; tenant: Tenant } | null> {
    const row = await this.one(
      `SELECT s.id_hash, s.created_at AS s_created_at, s.last_seen_at, s.expires_at, s.revoked_at, u.*, ${TENANT_COLUMNS}
       FROM sessions s JOIN users u ON u.id = s.user_id AND u.tenant_id = s.tenant_id JOIN tenants t ON t.id = s.tenant_id
       WHERE s.id_hash = $1`,
      [idHash],
    );
    if (!row) return null;
    const session = sessionFromRow({ ...row, tenant_id: row.tenant_id, user_id: row.id, created_at: row.s_created_at });
    return { session, user: userFromRow(row), tenant: tenantOf(row) };
  }

  async touchSession(idHash: string, at: Date): Promise<void> {
    await this.pool.query('UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1 AND last_seen_at < $2', [idHash, at]);
  }

  async revokeSession(idHash: string, at: Date): Promise<void> {
    await this.pool.query('UPDATE sessions SET revoked_at = COALESCE(revoked_at, $2) WHERE id_hash = $1', [idHash, at]);
  }

  async revokeUserSessions(tenantId: string, userId: string, at: Date): Promise<number> {
    const res = await this.pool.query('UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL', [tenantId, userId, at]);
    return res.rowCount ?? 0;
  }

  async recordLoginAttempt(bucket: string, at: Date): Promise<void> {
    await this.pool.query('INSERT INTO login_attempts (bucket, at) VALUES ($1, $2)', [bucket, at]);
  }

  async countLoginAttempts(bucket: string, since: Date): Promise<{ count: number; oldest: Date | null }> {
    const row = await this.one('SELECT COUNT(*)::int AS n, MIN(at) AS oldest FROM login_attempts WHERE bucket = $1 AND at >= $2', [bucket, since]);
    return { count: (row?.n as number) ?? 0, oldest: (row?.oldest as Date | null) ?? null };
  }

  async clearLoginAttempts(bucket: string): Promise<void> {
    await this.pool.query('DELETE FROM login_attempts WHERE bucket = $1', [bucket]);
  }

  async pruneLoginAttempts(before: Date): Promise<void> {
    await this.pool.query('DELETE FROM login_attempts WHERE at < $1', [before]);
  }

  async pruneSessions(expiredBefore: Date): Promise<void> {
    await this.pool.query('DELETE FROM sessions WHERE expires_at < $1', [expiredBefore]);
  }
}
