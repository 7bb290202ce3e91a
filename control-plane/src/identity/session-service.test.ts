import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { LoginThrottle } from './login-throttle.js';
import { PasswordHasher } from './password-hasher.js';
import { csrfTokenFor, SessionService } from './session-service.js';
import { UserService } from './user-service.js';

describe('SessionService', () => {
  let store: SqliteStore;
  const tenantId = 'ten_sessions';
  const password = 'a long enough password';

  beforeEach(async () => {
    store = SqliteStore.open({ path: ':memory:' });
    await store.migrate();
    await store.createTenant({ id: tenantId, name: 'sessions', externalId: 'x', createdAt: new Date() }, { id: 'key_s', tenantId, hash: 'h-s', createdAt: new Date() });
  });
  afterEach(async () => store.close());

  it('upgrades a hash made at an older cost when the user signs in', async () => {
    const old = new PasswordHasher({ ln: 10, r: 8, p: 1 });
    const user = await new UserService(store.identity, old).create(tenantId, { email: 'Old@Example.com', name: 'Old', role: 'viewer', password });
    expect(user.passwordHash).toMatch(/^\$scrypt\$ln=10,/);
    const current = new PasswordHasher();
    const sessions = new SessionService(store.identity, current, new LoginThrottle(store.identity), { idleMs: 60_000, absoluteMs: 3_600_000 });
    const issued = await sessions.signInWithPassword({ email: 'old@example.com', password }, { address: '127.0.0.1' });
    expect(issued.user.id).toBe(user.id);
    const stored = (await store.identity.getUser(tenantId, user.id))!.passwordHash!;
    expect(stored).toMatch(/^\$scrypt\$ln=15,/);
    await expect(current.verify(password, stored)).resolves.toBe(true);
  });

  it('makes every session in start(person), the step any sign-in method ends with, resolvable until it ends', async () => {
    const hasher = new PasswordHasher({ ln: 10, r: 8, p: 1 });
    const user = await new UserService(store.identity, hasher).create(tenantId, { email: 'sso@example.com', name: 'Sso', role: 'editor' });
    const tenant = (await store.getTenant(tenantId))!;
    const sessions = new SessionService(store.identity, hasher, new LoginThrottle(store.identity), { idleMs: 60_000, absoluteMs: 3_600_000 });
    const issued = await sessions.start({ tenant, user });
    expect(issued.secret).toMatch(/^ats_/);
    expect(issued.csrfToken).toBe(csrfTokenFor(issued.secret));
    expect((await sessions.resolve(issued.secret)).user.role).toBe('editor');
    // Only the hash is stored.
    expect(await store.identity.findSession(issued.secret)).toBeNull();
    await sessions.end(issued.secret);
    await expect(sessions.resolve(issued.secret)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
