import pg from 'pg';
import { removesActiveAdmin, type IdentityStore, type ListTenantsQuery } from '../identity-store.js';
import type { ApiKeyMatch, ApiKeyRecord, SessionRecord, TenantStatus, UserChange, UserPatch, UserRecord } from '../identity-records.js';
import type { Tenant } from '../records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { conflicting } from './conflicts.js';
import { IDENTITY } from './queries.js';

const { tenantFromRow, apiKeyFromRow, userFromRow, sessionFromRow } = rowMappers({
  date: (v) => v as Date,
  json: <T>(v: unknown) => v as T,
});

type Db = pg.Pool | pg.PoolClient;
/** The owning PostgresStore's transaction runner (one connection, rolled back on any error). */
export type Transaction = <T>(fn: (db: pg.PoolClient) => Promise<T>) => Promise<T>;

const tenantOf = (r: Row): Tenant =>
  tenantFromRow({ id: r.t_id, name: r.t_name, external_id: r.t_external_id, created_at: r.t_created_at, status: r.t_status, suspended_at: r.t_suspended_at });

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
    const rows = await this.all(IDENTITY.listTenants, [query.afterId ?? null, query.limit]);
    return rows.map(tenantFromRow);
  }

  async setTenantStatus(id: string, status: TenantStatus, at: Date): Promise<Tenant | null> {
    const row = await this.one(
      IDENTITY.setTenantStatus,
      [id, status, at],
    );
    return row ? tenantFromRow(row) : null;
  }

  async createApiKey(k: ApiKeyRecord): Promise<void> {
    await conflicting('API key', () =>
      this.pool.query(
        IDENTITY.createApiKey,
        [k.id, k.tenantId, k.name, k.role, k.prefix, k.hash, k.createdAt, k.lastUsedAt, k.expiresAt, k.revokedAt, k.previousHash, k.previousValidUntil],
      ),
    );
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return (await this.all(IDENTITY.listApiKeys, [tenantId])).map(apiKeyFromRow);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyMatch | null> {
    const row = await this.one(
      IDENTITY.findApiKeyByHash,
      [hash],
    );
    return row ? { key: apiKeyFromRow(row), matched: row.matched as 'current' | 'previous' } : null;
  }

  async rotateApiKey(tenantId: string, id: string, secret: { hash: string; prefix: string }, previousValidUntil: Date | null): Promise<ApiKeyRecord | null> {
    const row = await conflicting('API key', () =>
      this.one(
        IDENTITY.rotateApiKey,
        [tenantId, id, secret.hash, secret.prefix, previousValidUntil],
      ),
    );
    return row ? apiKeyFromRow(row) : null;
  }

  async revokeApiKey(tenantId: string, id: string, at: Date): Promise<ApiKeyRecord | null> {
    const row = await this.one(IDENTITY.revokeApiKey, [tenantId, id, at]);
    return row ? apiKeyFromRow(row) : null;
  }

  async touchApiKey(id: string, at: Date): Promise<void> {
    await this.pool.query(IDENTITY.touchApiKey, [id, at]);
  }

  async createUser(user: UserRecord): Promise<void> {
    await conflicting('user', () => this.pool.query(IDENTITY.insertUser, userParams(user)));
  }

  async getUser(tenantId: string, id: string): Promise<UserRecord | null> {
    const row = await this.one(IDENTITY.getUser, [tenantId, id]);
    return row ? userFromRow(row) : null;
  }

  async listUsers(tenantId: string): Promise<UserRecord[]> {
    return (await this.all(IDENTITY.listUsers, [tenantId])).map(userFromRow);
  }

  async findUsersByEmail(email: string): Promise<Array<{ user: UserRecord; tenant: Tenant }>> {
    const rows = await this.all(IDENTITY.findUsersByEmail, [email]);
    return rows.map((r) => ({ user: userFromRow(r), tenant: tenantOf(r) }));
  }

  /**
   * The tenant row is locked first, so changes to one tenant's users run one at a time across
   * replicas: two admins demoting each other cannot both see "another admin remains".
   */
  private guarded(tenantId: string, id: string, patch: UserPatch | 'delete', apply: (db: pg.PoolClient) => Promise<Row | undefined>): Promise<UserChange> {
    return this.transaction(async (db) => {
      await db.query(IDENTITY.lockTenant, [tenantId]);
      const row = await this.one(IDENTITY.getUserForChange, [tenantId, id], db);
      if (!row) return { ok: false, reason: 'not-found' } as const;
      const user = userFromRow(row);
      if (removesActiveAdmin(user, patch)) {
        const others = await this.one(
          IDENTITY.otherActiveAdmins,
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
        IDENTITY.updateUser,
        [tenantId, id, patch.name ?? null, patch.role ?? null, patch.status ?? null, patch.passwordHash !== undefined, patch.passwordHash ?? null, now],
        db,
      ),
    );
  }

  deleteUser(tenantId: string, id: string): Promise<UserChange> {
    return this.guarded(tenantId, id, 'delete', async (db) => {
      await db.query(IDENTITY.deleteSessionsOfUser, [tenantId, id]);
      return this.one(IDENTITY.deleteUser, [tenantId, id], db);
    });
  }

  async createSession(s: SessionRecord): Promise<void> {
    await conflicting('session', () =>
      this.pool.query(
        IDENTITY.createSession,
        [s.idHash, s.tenantId, s.userId, s.createdAt, s.lastSeenAt, s.expiresAt, s.revokedAt],
      ),
    );
  }

  async findSession(idHash: string): Promise<{ session: SessionRecord; user: UserRecord; tenant: Tenant } | null> {
    const row = await this.one(
      IDENTITY.findSession,
      [idHash],
    );
    if (!row) return null;
    const session = sessionFromRow({ ...row, tenant_id: row.tenant_id, user_id: row.id, created_at: row.s_created_at });
    return { session, user: userFromRow(row), tenant: tenantOf(row) };
  }

  async touchSession(idHash: string, at: Date): Promise<void> {
    await this.pool.query(IDENTITY.touchSession, [idHash, at]);
  }

  async revokeSession(idHash: string, at: Date): Promise<void> {
    await this.pool.query(IDENTITY.revokeSession, [idHash, at]);
  }

  async revokeUserSessions(tenantId: string, userId: string, at: Date): Promise<number> {
    const res = await this.pool.query(IDENTITY.revokeUserSessions, [tenantId, userId, at]);
    return res.rowCount ?? 0;
  }

  async recordLoginAttempt(bucket: string, at: Date): Promise<void> {
    await this.pool.query(IDENTITY.recordLoginAttempt, [bucket, at]);
  }

  async countLoginAttempts(bucket: string, since: Date): Promise<{ count: number; oldest: Date | null }> {
    const row = await this.one(IDENTITY.countLoginAttempts, [bucket, since]);
    return { count: (row?.n as number) ?? 0, oldest: (row?.oldest as Date | null) ?? null };
  }

  async clearLoginAttempts(bucket: string): Promise<void> {
    await this.pool.query(IDENTITY.clearLoginAttempts, [bucket]);
  }

  async pruneLoginAttempts(before: Date): Promise<void> {
    await this.pool.query(IDENTITY.pruneLoginAttempts, [before]);
  }

  async pruneSessions(expiredBefore: Date): Promise<void> {
    await this.pool.query(IDENTITY.pruneSessions, [expiredBefore]);
  }
}
