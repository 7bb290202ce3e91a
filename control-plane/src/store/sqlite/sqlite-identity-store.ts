import type Database from 'better-sqlite3';
import { removesActiveAdmin, type IdentityStore, type ListTenantsQuery } from '../identity-store.js';
import type { ApiKeyMatch, ApiKeyRecord, SessionRecord, TenantStatus, UserChange, UserPatch, UserRecord } from '../identity-records.js';
import type { Tenant } from '../records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { readStatements, type GroupCommit, type Writer } from './group-commit.js';
import { conflicting } from './conflicts.js';

const ms = (d: Date): number => d.getTime();
const msOrNull = (d: Date | null): number | null => (d ? d.getTime() : null);

const { tenantFromRow, apiKeyFromRow, userFromRow, sessionFromRow } = rowMappers({
  date: (v) => new Date(v as number),
  json: <T>(v: unknown) => JSON.parse(v as string) as T,
});

function prepareReads(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    listTenants: p(`SELECT * FROM tenants WHERE (@afterId IS NULL OR id > @afterId) ORDER BY id LIMIT @limit`),
    listKeys: p(`SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id`),
    keyByHash: p(`SELECT * FROM api_keys WHERE hash = ?`),
    keyByPreviousHash: p(`SELECT * FROM api_keys WHERE previous_hash = ?`),
    getUser: p(`SELECT * FROM users WHERE tenant_id = ? AND id = ?`),
    listUsers: p(`SELECT * FROM users WHERE tenant_id = ? ORDER BY email, id`),
    usersByEmail: p(`SELECT u.*, t.id AS t_id, t.name AS t_name, t.external_id AS t_external_id, t.created_at AS t_created_at,
        t.status AS t_status, t.suspended_at AS t_suspended_at
      FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.email = ? ORDER BY t.id`),
    otherActiveAdmins: p(`SELECT COUNT(*) AS n FROM users WHERE tenant_id = ? AND id <> ? AND role = 'admin' AND status = 'active'`),
    getSession: p(`SELECT * FROM sessions WHERE id_hash = ?`),
    countAttempts: p(`SELECT COUNT(*) AS n, MIN(at) AS oldest FROM login_attempts WHERE bucket = ? AND at >= ?`),
    getTenant: p(`SELECT * FROM tenants WHERE id = ?`),
  };
}

function prepareWrites(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    setTenantStatus: p(`UPDATE tenants SET status = @status,
        suspended_at = CASE WHEN @status = 'suspended' THEN COALESCE(suspended_at, @at) ELSE NULL END
      WHERE id = @id RETURNING *`),
    insertKey: p(`INSERT INTO api_keys (id, tenant_id, name, role, prefix, hash, created_at, last_used_at, expires_at,
        revoked_at, previous_hash, previous_valid_until)
      VALUES (@id, @tenantId, @name, @role, @prefix, @hash, @createdAt, @lastUsedAt, @expiresAt, @revokedAt,
        @previousHash, @previousValidUntil)`),
    rotateKey: p(`UPDATE api_keys SET previous_hash = CASE WHEN @validUntil IS NULL THEN NULL ELSE hash END,
        previous_valid_until = @validUntil, hash = @hash, prefix = @prefix
      WHERE tenant_id = @tenantId AND id = @id AND revoked_at IS NULL RETURNING *`),
    revokeKey: p(`UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE tenant_id = ? AND id = ? RETURNING *`),
    touchKey: p(`UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`),
    insertUser: p(`INSERT INTO users (id, tenant_id, email, name, role, status, password_hash, created_at, updated_at)
      VALUES (@id, @tenantId, @email, @name, @role, @status, @passwordHash, @createdAt, @updatedAt)`),
    updateUser: p(`UPDATE users SET name = COALESCE(@name, name), role = COALESCE(@role, role),
        status = COALESCE(@status, status),
        password_hash = CASE WHEN @setPassword THEN @passwordHash ELSE password_hash END, updated_at = @now
      WHERE tenant_id = @tenantId AND id = @id RETURNING *`),
    deleteSessionsOfUser: p(`DELETE FROM sessions WHERE tenant_id = ? AND user_id = ?`),
    deleteUser: p(`DELETE FROM users WHERE tenant_id = ? AND id = ?`),
    insertSession: p(`INSERT INTO sessions (id_hash, tenant_id, user_id, created_at, last_seen_at, expires_at, revoked_at)
      VALUES (@idHash, @tenantId, @userId, @createdAt, @lastSeenAt, @expiresAt, @revokedAt)`),
    touchSession: p(`UPDATE sessions SET last_seen_at = ? WHERE id_hash = ? AND last_seen_at < ?`),
    revokeSession: p(`UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id_hash = ?`),
    revokeUserSessions: p(`UPDATE sessions SET revoked_at = ? WHERE tenant_id = ? AND user_id = ? AND revoked_at IS NULL`),
    insertAttempt: p(`INSERT INTO login_attempts (bucket, at) VALUES (?, ?)`),
    clearBucket: p(`DELETE FROM login_attempts WHERE bucket = ?`),
    clearOld: p(`DELETE FROM login_attempts WHERE at < ?`),
    pruneSessions: p(`DELETE FROM sessions WHERE expires_at < ?`),
  };
}

function insertUser(w: ReturnType<typeof prepareWrites>, user: UserRecord): void {
  conflicting('user', () => w.insertUser.run({ ...user, createdAt: ms(user.createdAt), updatedAt: ms(user.updatedAt) }));
}

/** IdentityStore over the SqliteStore's connection (see SqliteStore for the write discipline). */
export class SqliteIdentityStore implements IdentityStore {
  private readonly reads: () => ReturnType<typeof prepareReads>;
  private readonly writer: Writer<ReturnType<typeof prepareWrites>>;

  constructor(db: Database.Database, commit: GroupCommit) {
    this.reads = readStatements(() => prepareReads(db));
    this.writer = commit.writer(() => prepareWrites(db));
  }

  private get q(): ReturnType<typeof prepareReads> {
    return this.reads();
  }

  async listTenants(query: ListTenantsQuery): Promise<Tenant[]> {
    return (this.q.listTenants.all({ afterId: query.afterId ?? null, limit: query.limit }) as Row[]).map(tenantFromRow);
  }

  setTenantStatus(id: string, status: TenantStatus, at: Date): Promise<Tenant | null> {
    return this.writer.run((w) => {
      const row = w.setTenantStatus.get({ id, status, at: ms(at) }) as Row | undefined;
      return row ? tenantFromRow(row) : null;
    });
  }

  createApiKey(key: ApiKeyRecord): Promise<void> {
    return this.writer.run((w) => {
      conflicting('API key', () =>
        w.insertKey.run({
          ...key,
          createdAt: ms(key.createdAt),
          lastUsedAt: msOrNull(key.lastUsedAt),
          expiresAt: msOrNull(key.expiresAt),
          revokedAt: msOrNull(key.revokedAt),
          previousValidUntil: msOrNull(key.previousValidUntil),
        }),
      );
    });
  }

  async listApiKeys(tenantId: string): Promise<ApiKeyRecord[]> {
    return (this.q.listKeys.all(tenantId) as Row[]).map(apiKeyFromRow);
  }

  async findApiKeyByHash(hash: string): Promise<ApiKeyMatch | null> {
    const current = this.q.keyByHash.get(hash) as Row | undefined;
    if (current) return { key: apiKeyFromRow(current), matched: 'current' };
    const previous = this.q.keyByPreviousHash.get(hash) as Row | undefined;
    return previous ? { key: apiKeyFromRow(previous), matched: 'previous' } : null;
  }

  rotateApiKey(tenantId: string, id: string, secret: { hash: string; prefix: string }, previousValidUntil: Date | null): Promise<ApiKeyRecord | null> {
    return this.writer.run((w) => {
      const row = conflicting('API key', () =>
        w.rotateKey.get({ tenantId, id, hash: secret.hash, prefix: secret.prefix, validUntil: msOrNull(previousValidUntil) }),
      ) as Row | undefined;
      return row ? apiKeyFromRow(row) : null;
    });
  }

  revokeApiKey(tenantId: string, id: string, at: Date): Promise<ApiKeyRecord | null> {
    return this.writer.run((w) => {
      const row = w.revokeKey.get(ms(at), tenantId, id) as Row | undefined;
      return row ? apiKeyFromRow(row) : null;
    });
  }

  touchApiKey(id: string, at: Date): Promise<void> {
    return this.writer.run((w) => {
      w.touchKey.run(ms(at), id, ms(at));
    });
  }

  createUser(user: UserRecord): Promise<void> {
    return this.writer.run((w) => insertUser(w, user));
  }

  /** Part of a write in progress (a tenant and its first admin are one step). */
  insertUserNow(user: UserRecord): void {
    this.writer.within((w) => insertUser(w, user));
  }

  async getUser(tenantId: string, id: string): Promise<UserRecord | null> {
    const row = this.q.getUser.get(tenantId, id) as Row | undefined;
    return row ? userFromRow(row) : null;
  }

  async listUsers(tenantId: string): Promise<UserRecord[]> {
    return (this.q.listUsers.all(tenantId) as Row[]).map(userFromRow);
  }

  async findUsersByEmail(email: string): Promise<Array<{ user: UserRecord; tenant: Tenant }>> {
    return (this.q.usersByEmail.all(email) as Row[]).map((r) => ({
      user: userFromRow(r),
      tenant: tenantFromRow({
        id: r.t_id,
        name: r.t_name,
        external_id: r.t_external_id,
        created_at: r.t_created_at,
        status: r.t_status,
        suspended_at: r.t_suspended_at,
      }),
    }));
  }

  /** better-sqlite3 is synchronous: the check and the change run with nothing in between. */
  private guarded(tenantId: string, id: string, patch: UserPatch | 'delete', apply: () => UserRecord | null): UserChange {
    const row = this.q.getUser.get(tenantId, id) as Row | undefined;
    if (!row) return { ok: false, reason: 'not-found' };
    const user = userFromRow(row);
    if (removesActiveAdmin(user, patch) && (this.q.otherActiveAdmins.get(tenantId, id) as { n: number }).n === 0) {
      return { ok: false, reason: 'last-admin' };
    }
    const changed = apply();
    return changed ? { ok: true, user: changed } : { ok: false, reason: 'not-found' };
  }

  updateUser(tenantId: string, id: string, patch: UserPatch, now: Date): Promise<UserChange> {
    return this.writer.run((w) =>
      this.guarded(tenantId, id, patch, () => {
        const row = w.updateUser.get({
          tenantId,
          id,
          name: patch.name ?? null,
          role: patch.role ?? null,
          status: patch.status ?? null,
          setPassword: patch.passwordHash !== undefined ? 1 : 0,
          passwordHash: patch.passwordHash ?? null,
          now: ms(now),
        }) as Row | undefined;
        return row ? userFromRow(row) : null;
      }),
    );
  }

  deleteUser(tenantId: string, id: string): Promise<UserChange> {
    return this.writer.run((w) =>
      this.guarded(tenantId, id, 'delete', () => {
        const user = this.q.getUser.get(tenantId, id) as Row | undefined;
        w.deleteSessionsOfUser.run(tenantId, id);
        w.deleteUser.run(tenantId, id);
        return user ? userFromRow(user) : null;
      }),
    );
  }

  createSession(session: SessionRecord): Promise<void> {
    return this.writer.run((w) => {
      conflicting('session', () =>
        w.insertSession.run({
          ...session,
          createdAt: ms(session.createdAt),
          lastSeenAt: ms(session.lastSeenAt),
          expiresAt: ms(session.expiresAt),
          revokedAt: msOrNull(session.revokedAt),
        }),
      );
    });
  }

  async findSession(idHash: string): Promise<{ session: SessionRecord; user: UserRecord; tenant: Tenant } | null> {
    const row = this.q.getSession.get(idHash) as Row | undefined;
    if (!row) return null;
    const session = sessionFromRow(row);
    const user = this.q.getUser.get(session.tenantId, session.userId) as Row | undefined;
    const tenant = this.q.getTenant.get(session.tenantId) as Row | undefined;
    return user && tenant ? { session, user: userFromRow(user), tenant: tenantFromRow(tenant) } : null;
  }

  touchSession(idHash: string, at: Date): Promise<void> {
    return this.writer.run((w) => {
      w.touchSession.run(ms(at), idHash, ms(at));
    });
  }

  revokeSession(idHash: string, at: Date): Promise<void> {
    return this.writer.run((w) => {
      w.revokeSession.run(ms(at), idHash);
    });
  }

  revokeUserSessions(tenantId: string, userId: string, at: Date): Promise<number> {
    return this.writer.run((w) => w.revokeUserSessions.run(ms(at), tenantId, userId).changes);
  }

  recordLoginAttempt(bucket: string, at: Date): Promise<void> {
    return this.writer.run((w) => {
      w.insertAttempt.run(bucket, ms(at));
    });
  }

  async countLoginAttempts(bucket: string, since: Date): Promise<{ count: number; oldest: Date | null }> {
    const row = this.q.countAttempts.get(bucket, ms(since)) as { n: number; oldest: number | null };
    return { count: row.n, oldest: row.oldest === null ? null : new Date(row.oldest) };
  }

  clearLoginAttempts(bucket: string): Promise<void> {
    return this.writer.run((w) => {
      w.clearBucket.run(bucket);
    });
  }

  pruneLoginAttempts(before: Date): Promise<void> {
    return this.writer.run((w) => {
      w.clearOld.run(ms(before));
    });
  }

  pruneSessions(expiredBefore: Date): Promise<void> {
    return this.writer.run((w) => {
      w.pruneSessions.run(ms(expiredBefore));
    });
  }
}
