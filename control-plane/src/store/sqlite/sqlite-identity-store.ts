import type Database from 'better-sqlite3';
import { removesActiveAdmin, type IdentityStore, type ListTenantsQuery } from '../identity-store.js';
import type { ApiKeyMatch, ApiKeyRecord, SessionRecord, TenantStatus, UserChange, UserPatch, UserRecord } from '../identity-records.js';
import type { Tenant } from '../records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { prepareEach, readStatements, type GroupCommit, type Writer } from './group-commit.js';
import { IDENTITY_READS, IDENTITY_WRITES } from './queries.js';
import { conflicting } from './conflicts.js';

const ms = (d: Date): number => d.getTime();
const msOrNull = (d: Date | null): number | null => (d ? d.getTime() : null);

const { tenantFromRow, apiKeyFromRow, userFromRow, sessionFromRow } = rowMappers({
  date: (v) => new Date(v as number),
  json: <T>(v: unknown) => JSON.parse(v as string) as T,
});



function insertUser(w: Record<keyof typeof IDENTITY_WRITES, Database.Statement>, user: UserRecord): void {
  conflicting('user', () => w.insertUser.run({ ...user, createdAt: ms(user.createdAt), updatedAt: ms(user.updatedAt) }));
}

/** IdentityStore over the SqliteStore's connection (see SqliteStore for the write discipline). */
export class SqliteIdentityStore implements IdentityStore {
  private readonly reads: () => Record<keyof typeof IDENTITY_READS, Database.Statement>;
  private readonly writer: Writer<Record<keyof typeof IDENTITY_WRITES, Database.Statement>>;

  constructor(db: Database.Database, commit: GroupCommit) {
    this.reads = readStatements(() => prepareEach(db, IDENTITY_READS));
    this.writer = commit.writer(() => prepareEach(db, IDENTITY_WRITES));
  }

  private get q(): Record<keyof typeof IDENTITY_READS, Database.Statement> {
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
