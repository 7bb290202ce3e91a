import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ApiKeyRecord, CliCodeRecord, OidcConfigRecord, OidcLoginRecord, Role, Store, UserRecord } from './store.js';
import { StoreConflictError } from './store-errors.js';

/**
 * The identity behaviour every Store backend shares (users, sessions, API keys, sign-in attempts,
 * tenant status). Run from runStoreConformance, so every backend that runs that suite runs this.
 */
export function runIdentityStoreConformance(name: string, open: () => Promise<Store>, close: (s: Store) => Promise<void>): void {
  describe(`IdentityStore conformance: ${name}`, () => {
    let store: Store;
    let run: string;
    let seq = 0;
    const uid = (what: string) => `${run}-${what}-${String(++seq).padStart(4, '0')}`;
    const T0 = Date.UTC(2025, 0, 1);
    const at = (seconds: number) => new Date(T0 + seconds * 1000);

    beforeEach(async () => {
      run = randomUUID().slice(0, 8);
      store = await open();
      await store.migrate();
    });
    afterEach(async () => close(store));

    async function newTenant(admin?: UserRecord): Promise<string> {
      const id = admin?.tenantId ?? uid('tenant');
      await store.createTenant({ id, name: `name-${id}`, externalId: `ext-${id}`, createdAt: at(0) }, { id: uid('key'), tenantId: id, hash: `hash-${id}`, createdAt: at(0), prefix: 'atk_abcdef' }, admin);
      return id;
    }

    function user(tenantId: string, over: Partial<UserRecord> = {}): UserRecord {
      const id = uid('user');
      return { id, tenantId, email: `${id}@example.com`, name: `User ${id}`, role: 'viewer', status: 'active', passwordHash: '$scrypt$x', createdAt: at(1), updatedAt: at(1), ...over };
    }

    function key(tenantId: string, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
      const id = uid('key');
      return {
        id,
        tenantId,
        name: `key ${id}`,
        role: 'editor' as Role,
        prefix: 'atk_xyzabc',
        hash: `h-${id}`,
        createdAt: at(2),
        lastUsedAt: null,
        expiresAt: at(3600),
        revokedAt: null,
        previousHash: null,
        previousValidUntil: null,
        ...over,
      };
    }

    describe('tenants', () => {
      it('creates a tenant active, with its first key as an admin key, and its first admin atomically', async () => {
        const tenantId = uid('tenant');
        const admin = user(tenantId, { role: 'admin' });
        await newTenant(admin);
        const tenant = await store.getTenant(tenantId);
        expect(tenant).toMatchObject({ id: tenantId, status: 'active', suspendedAt: null });
        const [first] = await store.identity.listApiKeys(tenantId);
        expect(first).toMatchObject({ tenantId, role: 'admin', name: 'initial admin key', prefix: 'atk_abcdef', hash: `hash-${tenantId}`, revokedAt: null, expiresAt: null });
        expect(await store.identity.getUser(tenantId, admin.id)).toEqual(admin);

        // A clashing admin email cannot happen in a new tenant, but a clashing user id undoes it all.
        const other = uid('tenant');
        await expect(newTenant({ ...admin, tenantId: other })).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.getTenant(other)).toBeNull();
      });

      it('lists tenants in id order with a cursor, and suspends and resumes', async () => {
        const ids = [await newTenant(), await newTenant(), await newTenant()];
        const page = await store.identity.listTenants({ limit: 500 });
        const mine = page.map((t) => t.id).filter((id) => ids.includes(id));
        expect(mine).toEqual(ids);
        const after = await store.identity.listTenants({ limit: 2, afterId: ids[0]! });
        expect(after.map((t) => t.id)).toEqual([ids[1], ids[2]]);

        const suspended = await store.identity.setTenantStatus(ids[0]!, 'suspended', at(10));
        expect(suspended).toMatchObject({ status: 'suspended', suspendedAt: at(10) });
        // Suspending again keeps the first time.
        expect((await store.identity.setTenantStatus(ids[0]!, 'suspended', at(20)))?.suspendedAt).toEqual(at(10));
        expect(await store.getTenant(ids[0]!)).toMatchObject({ status: 'suspended' });
        expect(await store.identity.setTenantStatus(ids[0]!, 'active', at(30))).toMatchObject({ status: 'active', suspendedAt: null });
        expect(await store.identity.setTenantStatus(uid('missing'), 'suspended', at(0))).toBeNull();
      });
    });

    describe('API keys', () => {
      it('creates, lists per tenant, finds by hash and moves lastUsedAt only forward', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const k = key(a);
        await store.identity.createApiKey(k);
        expect((await store.identity.listApiKeys(a)).map((x) => x.id)).toContain(k.id);
        expect((await store.identity.listApiKeys(b)).map((x) => x.id)).not.toContain(k.id);
        expect(await store.identity.findApiKeyByHash(k.hash)).toEqual({ key: k, matched: 'current' });
        expect(await store.identity.findApiKeyByHash('no-such-hash')).toBeNull();
        await store.identity.touchApiKey(k.id, at(100));
        await store.identity.touchApiKey(k.id, at(50));
        expect((await store.identity.findApiKeyByHash(k.hash))?.key.lastUsedAt).toEqual(at(100));
        await expect(store.identity.createApiKey({ ...key(a), hash: k.hash })).rejects.toBeInstanceOf(StoreConflictError);
      });

      it('rotates: the new secret is current, the old one is found as previous until replaced again', async () => {
        const a = await newTenant();
        const k = key(a);
        await store.identity.createApiKey(k);
        const rotated = await store.identity.rotateApiKey(a, k.id, { hash: 'h-new-1', prefix: 'atk_new111' }, at(500));
        expect(rotated).toMatchObject({ id: k.id, hash: 'h-new-1', prefix: 'atk_new111', previousHash: k.hash, previousValidUntil: at(500) });
        expect(await store.identity.findApiKeyByHash('h-new-1')).toMatchObject({ matched: 'current', key: { id: k.id } });
        expect(await store.identity.findApiKeyByHash(k.hash)).toMatchObject({ matched: 'previous', key: { id: k.id } });
        // Rotating without grace forgets every earlier secret at once.
        await store.identity.rotateApiKey(a, k.id, { hash: 'h-new-2', prefix: 'atk_new222' }, null);
        expect(await store.identity.findApiKeyByHash(k.hash)).toBeNull();
        expect(await store.identity.findApiKeyByHash('h-new-1')).toBeNull();
        expect(await store.identity.findApiKeyByHash('h-new-2')).toMatchObject({ matched: 'current' });
        // Another tenant cannot rotate it.
        expect(await store.identity.rotateApiKey(await newTenant(), k.id, { hash: 'h-x', prefix: 'p' }, null)).toBeNull();
      });

      it('revokes idempotently, within the tenant only, and a revoked key cannot be rotated', async () => {
        const a = await newTenant();
        const k = key(a);
        await store.identity.createApiKey(k);
        expect(await store.identity.revokeApiKey(await newTenant(), k.id, at(5))).toBeNull();
        expect((await store.identity.revokeApiKey(a, k.id, at(5)))?.revokedAt).toEqual(at(5));
        expect((await store.identity.revokeApiKey(a, k.id, at(9)))?.revokedAt).toEqual(at(5));
        expect((await store.identity.findApiKeyByHash(k.hash))?.key.revokedAt).toEqual(at(5));
        expect(await store.identity.rotateApiKey(a, k.id, { hash: 'h-after', prefix: 'p' }, null)).toBeNull();
      });
    });

    describe('users', () => {
      it('creates, reads, lists per tenant, and finds by email across tenants', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const email = `${uid('shared')}@example.com`;
        const ua = user(a, { email });
        const ub = user(b, { email, role: 'admin' });
        await store.identity.createUser(ua);
        await store.identity.createUser(ub);
        expect(await store.identity.getUser(a, ua.id)).toEqual(ua);
        expect(await store.identity.getUser(b, ua.id)).toBeNull();
        expect((await store.identity.listUsers(a)).map((u) => u.id)).toEqual([ua.id]);
        const found = await store.identity.findUsersByEmail(email);
        expect(found.map((f) => [f.user.id, f.tenant.id]).sort()).toEqual([[ua.id, a], [ub.id, b]].sort());
        expect(found.find((f) => f.tenant.id === a)?.tenant).toEqual(await store.getTenant(a));
        await expect(store.identity.createUser(user(a, { email }))).rejects.toBeInstanceOf(StoreConflictError);
      });

      it('updates fields, sets or clears the password, and keeps the last active admin', async () => {
        const a = await newTenant();
        const admin = user(a, { role: 'admin' });
        const viewer = user(a);
        await store.identity.createUser(admin);
        await store.identity.createUser(viewer);
        const changed = await store.identity.updateUser(a, viewer.id, { name: 'Renamed', role: 'editor', passwordHash: null }, at(60));
        expect(changed).toEqual({ ok: true, user: { ...viewer, name: 'Renamed', role: 'editor', passwordHash: null, updatedAt: at(60) } });
        expect(await store.identity.updateUser(a, admin.id, { role: 'editor' }, at(61))).toEqual({ ok: false, reason: 'last-admin' });
        expect(await store.identity.updateUser(a, admin.id, { status: 'disabled' }, at(61))).toEqual({ ok: false, reason: 'last-admin' });
        expect(await store.identity.deleteUser(a, admin.id)).toEqual({ ok: false, reason: 'last-admin' });
        // Renaming the last admin, or keeping its role, is fine.
        expect((await store.identity.updateUser(a, admin.id, { name: 'Still admin', role: 'admin' }, at(62))).ok).toBe(true);
        expect(await store.identity.updateUser(a, uid('missing'), { name: 'x' }, at(62))).toEqual({ ok: false, reason: 'not-found' });
        expect(await store.identity.updateUser(await newTenant(), viewer.id, { name: 'x' }, at(62))).toEqual({ ok: false, reason: 'not-found' });

        // With a second active admin, either may go; then the remaining one is the last.
        await store.identity.updateUser(a, viewer.id, { role: 'admin' }, at(63));
        expect((await store.identity.deleteUser(a, admin.id)).ok).toBe(true);
        expect(await store.identity.getUser(a, admin.id)).toBeNull();
        expect(await store.identity.updateUser(a, viewer.id, { role: 'viewer' }, at(64))).toEqual({ ok: false, reason: 'last-admin' });
      });

      it('never lets two concurrent demotions remove both admins', async () => {
        const a = await newTenant();
        const x = user(a, { role: 'admin' });
        const y = user(a, { role: 'admin' });
        await store.identity.createUser(x);
        await store.identity.createUser(y);
        const results = await Promise.all([
          store.identity.updateUser(a, x.id, { role: 'viewer' }, at(70)),
          store.identity.updateUser(a, y.id, { role: 'viewer' }, at(70)),
        ]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, reason: 'last-admin' }]);
        expect((await store.identity.listUsers(a)).filter((u) => u.role === 'admin')).toHaveLength(1);
      });
    });

    describe('sessions', () => {
      it('creates, finds with user and tenant, touches forward, revokes one or all of a user', async () => {
        const a = await newTenant();
        const u = user(a);
        await store.identity.createUser(u);
        const s1 = { idHash: uid('sess'), tenantId: a, userId: u.id, createdAt: at(0), lastSeenAt: at(0), expiresAt: at(3600), revokedAt: null };
        const s2 = { ...s1, idHash: uid('sess') };
        await store.identity.createSession(s1);
        await store.identity.createSession(s2);
        const found = await store.identity.findSession(s1.idHash);
        expect(found).toEqual({ session: s1, user: u, tenant: await store.getTenant(a) });
        expect(await store.identity.findSession('no-such-session')).toBeNull();
        await store.identity.touchSession(s1.idHash, at(30));
        await store.identity.touchSession(s1.idHash, at(10));
        expect((await store.identity.findSession(s1.idHash))?.session.lastSeenAt).toEqual(at(30));
        await store.identity.revokeSession(s1.idHash, at(40));
        expect((await store.identity.findSession(s1.idHash))?.session.revokedAt).toEqual(at(40));
        expect(await store.identity.revokeUserSessions(await newTenant(), u.id, at(50))).toBe(0);
        expect(await store.identity.revokeUserSessions(a, u.id, at(50))).toBe(1);
        expect((await store.identity.findSession(s2.idHash))?.session.revokedAt).toEqual(at(50));
      });

      it("removes a user's sessions with the user", async () => {
        const a = await newTenant();
        await store.identity.createUser(user(a, { role: 'admin' }));
        const u = user(a);
        await store.identity.createUser(u);
        const s = { idHash: uid('sess'), tenantId: a, userId: u.id, createdAt: at(0), lastSeenAt: at(0), expiresAt: at(3600), revokedAt: null };
        await store.identity.createSession(s);
        expect((await store.identity.deleteUser(a, u.id)).ok).toBe(true);
        expect(await store.identity.findSession(s.idHash)).toBeNull();
      });

      it('prunes sessions past their absolute end, and only those', async () => {
        const a = await newTenant();
        const u = user(a);
        await store.identity.createUser(u);
        const ended = { idHash: uid('sess'), tenantId: a, userId: u.id, createdAt: at(0), lastSeenAt: at(0), expiresAt: at(100), revokedAt: null };
        const live = { ...ended, idHash: uid('sess'), expiresAt: at(300) };
        await store.identity.createSession(ended);
        await store.identity.createSession(live);
        await store.identity.pruneSessions(at(200));
        expect(await store.identity.findSession(ended.idHash)).toBeNull();
        expect(await store.identity.findSession(live.idHash)).not.toBeNull();
      });
    });

    describe('sign-in attempts', () => {
      it('counts attempts per bucket within a window, with the oldest, and clears a bucket and old rows', async () => {
        const bucket = uid('bucket');
        const other = uid('bucket');
        for (const s of [10, 20, 30]) await store.identity.recordLoginAttempt(bucket, at(s));
        await store.identity.recordLoginAttempt(other, at(5));
        expect(await store.identity.countLoginAttempts(bucket, at(15))).toEqual({ count: 2, oldest: at(20) });
        expect(await store.identity.countLoginAttempts(bucket, at(0))).toEqual({ count: 3, oldest: at(10) });
        expect(await store.identity.countLoginAttempts(uid('empty'), at(0))).toEqual({ count: 0, oldest: null });
        await store.identity.clearLoginAttempts(bucket);
        expect((await store.identity.countLoginAttempts(bucket, at(0))).count).toBe(0);
        expect((await store.identity.countLoginAttempts(other, at(0))).count).toBe(1);
        // Pruning drops rows older than `before`, whatever their bucket.
        await store.identity.recordLoginAttempt(other, at(50));
        await store.identity.pruneLoginAttempts(at(6));
        expect(await store.identity.countLoginAttempts(other, at(0))).toEqual({ count: 1, oldest: at(50) });
      });
    });

    describe('OIDC', () => {
      function oidcConfig(tenantId: string, over: Partial<OidcConfigRecord> = {}): OidcConfigRecord {
        return {
          tenantId,
          issuer: 'https://idp.example.com',
          clientId: 'attache',
          clientSecretSealed: 'v1:sealed',
          allowedEmailDomains: ['example.com', 'example.org'],
          scopes: ['groups'],
          roleClaim: 'groups',
          roleMapping: { 'attache-admins': 'admin', 'attache-editors': 'editor' },
          defaultRole: 'viewer',
          createdAt: at(10),
          updatedAt: at(10),
          ...over,
        };
      }

      it('keeps one configuration per tenant: put replaces all but createdAt, get reads it back, delete removes it', async () => {
        const tenantId = await newTenant();
        const other = await newTenant();
        expect(await store.oidc.getOidcConfig(tenantId)).toBeNull();
        expect((await store.oidc.findTenantByName(`name-${tenantId}`))?.id).toBe(tenantId);
        expect(await store.oidc.findTenantByName(`no-such-${tenantId}`)).toBeNull();
        const first = oidcConfig(tenantId);
        expect(await store.oidc.putOidcConfig(first)).toEqual(first);
        const replaced = oidcConfig(tenantId, {
          issuer: 'https://other.example.com/realms/x',
          clientId: 'attache-2',
          clientSecretSealed: null,
          allowedEmailDomains: ['example.net'],
          scopes: [],
          roleClaim: 'roles',
          roleMapping: {},
          defaultRole: null,
          createdAt: at(99),
          updatedAt: at(20),
        });
        expect(await store.oidc.putOidcConfig(replaced)).toEqual({ ...replaced, createdAt: at(10) });
        expect(await store.oidc.getOidcConfig(tenantId)).toEqual({ ...replaced, createdAt: at(10) });
        expect(await store.oidc.getOidcConfig(other)).toBeNull();
        expect(await store.oidc.deleteOidcConfig(other)).toBe(false);
        expect(await store.oidc.deleteOidcConfig(tenantId)).toBe(true);
        expect(await store.oidc.getOidcConfig(tenantId)).toBeNull();
      });

      it('hands a sign-in in progress out once, and prunes only expired ones', async () => {
        const tenantId = await newTenant();
        const login = (stateHash: string, expires: number): OidcLoginRecord => ({
          stateHash,
          tenantId,
          browserHash: `b-${stateHash}`,
          nonce: `n-${stateHash}`,
          codeVerifier: `v-${stateHash}`,
          returnTo: '/console',
          cli: null,
          createdAt: at(0),
          expiresAt: at(expires),
        });
        const live = login(uid('state'), 600);
        const stale = login(uid('state'), 60);
        await store.oidc.createOidcLogin(live);
        await store.oidc.createOidcLogin(stale);
        // Two takes racing: exactly one gets it.
        const [a, b] = await Promise.all([store.oidc.takeOidcLogin(live.stateHash), store.oidc.takeOidcLogin(live.stateHash)]);
        expect([a, b].filter((x) => x !== null)).toEqual([live]);
        expect(await store.oidc.takeOidcLogin(live.stateHash)).toBeNull();
        const kept = login(uid('state'), 600);
        await store.oidc.createOidcLogin(kept);
        await store.oidc.pruneOidcLogins(at(300));
        expect(await store.oidc.takeOidcLogin(stale.stateHash)).toBeNull();
        expect(await store.oidc.takeOidcLogin(kept.stateHash)).toEqual(kept);
      });

      it('keeps the CLI binding of a sign-in, and hands a CLI code out once, pruning only expired ones', async () => {
        const tenantId = await newTenant();
        const cli = { redirectUri: 'http://127.0.0.1:53123/callback', codeChallenge: 'c'.repeat(43), state: 's'.repeat(32) };
        const started: OidcLoginRecord = {
          stateHash: uid('state'), tenantId, browserHash: 'b', nonce: 'n', codeVerifier: 'v', returnTo: '/console', cli, createdAt: at(0), expiresAt: at(600),
        };
        await store.oidc.createOidcLogin(started);
        expect(await store.oidc.takeOidcLogin(started.stateHash)).toEqual(started);

        const code = (codeHash: string, expires: number): CliCodeRecord => ({
          codeHash, tenantId, userId: uid('user'), codeChallenge: cli.codeChallenge, redirectUri: cli.redirectUri, createdAt: at(0), expiresAt: at(expires),
        });
        const live = code(uid('code'), 600);
        const stale = code(uid('code'), 60);
        await store.oidc.createCliCode(live);
        await store.oidc.createCliCode(stale);
        const [a, b] = await Promise.all([store.oidc.takeCliCode(live.codeHash), store.oidc.takeCliCode(live.codeHash)]);
        expect([a, b].filter((x) => x !== null)).toEqual([live]);
        expect(await store.oidc.takeCliCode(live.codeHash)).toBeNull();
        const kept = code(uid('code'), 600);
        await store.oidc.createCliCode(kept);
        await store.oidc.pruneCliCodes(at(300));
        expect(await store.oidc.takeCliCode(stale.codeHash)).toBeNull();
        expect(await store.oidc.takeCliCode(kept.codeHash)).toEqual(kept);
      });
    });
  });
}
