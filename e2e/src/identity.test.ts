import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { Api } from './support/api.js';
import { Browser } from './support/browser.js';
import { createToken, eventually, startControlPlane, startDelegate, type ControlPlaneHandle } from './support/cluster.js';
import { jsonLines } from './support/process.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const PASSWORD = 'correct horse battery';

/**
 * People and programs against a real control-plane process: tenants with a first admin, password
 * sign-in into a cookie session held by a real cookie jar, CSRF, roles, API keys with rotation and
 * revocation, and the operator's tenant controls.
 */
describe('identity: users, sessions, API keys, operators', () => {
  let cp: ControlPlaneHandle;
  let acme: { id: string; key: Api };

  async function newTenant(name: string, admin?: { email: string; name: string; password?: string }) {
    const res = await cp.operator.post('/v1/tenants', { name, ...(admin ? { admin } : {}) });
    expect(res.status, res.text).toBe(201);
    return { id: res.body.id as string, key: cp.operator.withKey(res.body.apiKey), res };
  }

  beforeAll(async () => {
    // The revoke and rotate cases keep a client calling as fast as it can; on a fast Node.js that is
    // past the default API rate limit (200/s), which is limits.test.ts's subject, not this file's.
    cp = await startControlPlane({ ATTACHE_API_RATE_LIMIT: '100000' });
    acme = await newTenant('acme', { email: 'Ann@Example.com', name: 'Ann', password: PASSWORD });
  });
  afterAll(async () => cp?.stop());

  it('creates a tenant with its first admin, who signs in with a password into an HttpOnly, SameSite=Lax session', async () => {
    const raw = await fetch(`${cp.httpUrl}/v1/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${cp.operator.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'nostore', admin: { email: 'x@example.com', name: 'X' } }),
    });
    expect(raw.status).toBe(201);
    expect(raw.headers.get('cache-control')).toBe('no-store');
    const body = (await raw.json()) as any;
    expect(body.apiKey).toMatch(/^atk_/);
    expect(body.admin).toMatchObject({ email: 'x@example.com', role: 'admin', status: 'active', hasPassword: false });

    const browser = new Browser(cp.httpUrl);
    const signedIn = await browser.signIn('ANN@example.com', PASSWORD);
    expect(signedIn.status, signedIn.text).toBe(201);
    expect(signedIn.headers['cache-control']).toBe('no-store');
    expect(signedIn.body).toMatchObject({ user: { email: 'ann@example.com', role: 'admin' }, tenant: { id: acme.id, name: 'acme' }, role: 'admin' });
    const session = browser.lastSetCookies.find((c) => c.key === 'attache_session')!;
    const csrf = browser.lastSetCookies.find((c) => c.key === 'attache_csrf')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'lax', path: '/', secure: false });
    expect(csrf).toMatchObject({ httpOnly: false, sameSite: 'lax', path: '/' });
    expect(Number(session.maxAge)).toBeGreaterThan(12 * 3600 - 60);
    expect(Number(session.maxAge)).toBeLessThanOrEqual(12 * 3600);
    expect(signedIn.body.csrfToken).toBe(csrf.value);
    expect(signedIn.text).not.toContain(session.value);

    const me = await browser.get('/v1/me');
    expect(me.body).toMatchObject({ kind: 'user', role: 'admin', tenant: { id: acme.id, name: 'acme' }, user: { email: 'ann@example.com' } });
    const meByKey = await acme.key.get('/v1/me');
    expect(meByKey.body).toMatchObject({ kind: 'apiKey', role: 'admin', tenant: { id: acme.id }, apiKey: { name: 'initial admin key' } });
    expect((await cp.operator.get('/v1/me')).body).toMatchObject({ kind: 'operator', role: 'operator' });
    expect((await fetch(`${cp.httpUrl}/v1/me`)).status).toBe(401);
  });

  it('needs the CSRF token for changes made with a cookie session, and not for bearer keys', async () => {
    const browser = new Browser(cp.httpUrl);
    expect((await browser.signIn('ann@example.com', PASSWORD)).status).toBe(201);
    const user = { email: 'csrf@example.com', name: 'Csrf', role: 'viewer' };
    const without = await browser.post('/v1/users', user, { csrf: false });
    expect(without.status).toBe(403);
    expect(without.body.error.code).toBe('CSRF_TOKEN_INVALID');
    const forged = await browser.request('POST', '/v1/users', user, { csrf: false, headers: { 'x-csrf-token': 'forged-token-value' } });
    expect(forged.body.error.code).toBe('CSRF_TOKEN_INVALID');
    // Reads need none.
    expect((await browser.get('/v1/users')).status).toBe(200);
    const withToken = await browser.post('/v1/users', user);
    expect(withToken.status, withToken.text).toBe(201);
    const byKey = await acme.key.post('/v1/users', { ...user, email: 'csrf2@example.com' });
    expect(byKey.status, byKey.text).toBe(201);
  });

  it('answers a wrong password, an unknown email and a disabled user alike, and enforces the minimum length', async () => {
    const short = await acme.key.post('/v1/users', { email: 'short@example.com', name: 'S', role: 'viewer', password: 'elevenchars' });
    expect(short.status).toBe(400);
    expect(short.text).toContain('at least 12 characters');
    const disabled = await acme.key.post('/v1/users', { email: 'off@example.com', name: 'Off', role: 'viewer', password: PASSWORD });
    expect((await acme.key.patch(`/v1/users/${disabled.body.id}`, { status: 'disabled' })).body.status).toBe('disabled');

    const browser = new Browser(cp.httpUrl);
    const wrong = await browser.signIn('ann@example.com', 'not the password at all');
    const unknown = await browser.signIn('nobody@example.com', 'not the password at all');
    const off = await browser.signIn('off@example.com', PASSWORD);
    for (const res of [wrong, unknown, off]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual(wrong.body);
    }
    expect(wrong.body.error.code).toBe('SIGN_IN_FAILED');
    expect(browser.lastSetCookies).toEqual([]);
  });

  it('limits failed sign-ins per account: the sixth attempt is refused with Retry-After, even with the right password', async () => {
    await acme.key.post('/v1/users', { email: 'locked@example.com', name: 'L', role: 'viewer', password: PASSWORD });
    const browser = new Browser(cp.httpUrl);
    for (let i = 0; i < 5; i++) expect((await browser.signIn('locked@example.com', `wrong password ${i}`)).status).toBe(401);
    const refused = await new Browser(cp.httpUrl).signIn('locked@example.com', PASSWORD);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('SIGN_IN_THROTTLED');
    const retryAfter = Number(refused.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(refused.body.error.details.retryAfter).toBe(retryAfter);
    // Other accounts are not affected.
    expect((await new Browser(cp.httpUrl).signIn('ann@example.com', PASSWORD)).status).toBe(201);
  });

  it('limits sign-in attempts per client address: the 21st in a minute is refused, other addresses are not', async () => {
    const browser = new Browser(cp.httpUrl);
    for (let i = 0; i < 20; i++) expect((await browser.signIn(`spray-${i}@example.com`, 'a guessed password')).status).toBe(401);
    const refused = await browser.signIn('ann@example.com', PASSWORD);
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('SIGN_IN_THROTTLED');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect((await new Browser(cp.httpUrl).signIn('ann@example.com', PASSWORD)).status).toBe(201);
  });

  it('asks for the tenant only when the password is right for users of several tenants, naming none', async () => {
    const beta = await newTenant('beta', { email: 'ann@example.com', name: 'Ann B', password: PASSWORD });
    const browser = new Browser(cp.httpUrl);
    const ambiguous = await browser.signIn('ann@example.com', PASSWORD);
    expect(ambiguous.status).toBe(409);
    expect(ambiguous.body.error.code).toBe('TENANT_REQUIRED');
    for (const secretish of ['acme', 'beta', acme.id, beta.id]) expect(ambiguous.text).not.toContain(secretish);
    expect((await browser.signIn('ann@example.com', 'a wrong password!')).body.error.code).toBe('SIGN_IN_FAILED');
    expect((await browser.signIn('ann@example.com', PASSWORD, 'beta')).status).toBe(201);
    expect((await browser.get('/v1/me')).body.tenant).toEqual({ id: beta.id, name: 'beta' });
    expect((await browser.signIn('ann@example.com', PASSWORD, acme.id)).status).toBe(201);
    expect((await browser.get('/v1/me')).body.tenant).toEqual({ id: acme.id, name: 'acme' });
  });

  it('keeps the last active admin, applies role changes at once, and ends sessions on sign-out or by an admin', async () => {
    const users = (await acme.key.get('/v1/users')).body.items as any[];
    const ann = users.find((u) => u.email === 'ann@example.com');
    for (const change of [{ role: 'editor' }, { status: 'disabled' }]) {
      const res = await acme.key.patch(`/v1/users/${ann.id}`, change);
      expect(res.status).toBe(409);
      expect(res.body.error.code).toBe('LAST_ADMIN');
    }
    expect((await acme.key.delete(`/v1/users/${ann.id}`)).body.error.code).toBe('LAST_ADMIN');

    const ed = (await acme.key.post('/v1/users', { email: 'ed@example.com', name: 'Ed', role: 'editor', password: PASSWORD })).body;
    const browser = new Browser(cp.httpUrl);
    expect((await browser.signIn('ed@example.com', PASSWORD)).status).toBe(201);
    const forbidden = await browser.post('/v1/users', { email: 'z@example.com', name: 'Z', role: 'viewer' });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toMatchObject({ code: 'FORBIDDEN', details: { requiredRole: 'admin', role: 'editor' } });
    const task = { type: 'echo', payload: { message: 'hi' }, selectors: ['nowhere'] };
    expect((await browser.post('/v1/tasks', task)).status).not.toBe(403);
    await acme.key.patch(`/v1/users/${ed.id}`, { role: 'viewer' });
    const demoted = await browser.post('/v1/tasks', task);
    expect(demoted.body.error).toMatchObject({ code: 'FORBIDDEN', details: { requiredRole: 'editor', role: 'viewer' } });

    const revoked = await acme.key.post(`/v1/users/${ed.id}/sessions/revoke`);
    expect(revoked.body).toEqual({ revoked: 1 });
    expect((await browser.get('/v1/me')).status).toBe(401);

    expect((await browser.signIn('ed@example.com', PASSWORD)).status).toBe(201);
    const cookie = (await browser.cookie('attache_session'))!;
    expect((await browser.delete('/v1/session')).status).toBe(204);
    expect(await browser.cookie('attache_session')).toBeUndefined();
    const replayed = await fetch(`${cp.httpUrl}/v1/me`, { headers: { cookie: `attache_session=${cookie}` } });
    expect(replayed.status).toBe(401);

    // A password reset by an admin ends the user's sessions and replaces the password.
    expect((await browser.signIn('ed@example.com', PASSWORD)).status).toBe(201);
    expect((await acme.key.patch(`/v1/users/${ed.id}`, { password: 'a brand new passphrase' })).status).toBe(200);
    expect((await browser.get('/v1/me')).status).toBe(401);
    expect((await browser.signIn('ed@example.com', PASSWORD)).status).toBe(401);
    expect((await browser.signIn('ed@example.com', 'a brand new passphrase')).status).toBe(201);
    expect((await acme.key.delete(`/v1/users/${ed.id}`)).status).toBe(204);
    expect((await browser.get('/v1/me')).status).toBe(401);
  });

  it('issues API keys with a role, lists them without secrets, and rotates with a grace period', async () => {
    const created = await fetch(`${cp.httpUrl}/v1/api-keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acme.key.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'ci', role: 'viewer', expiresInDays: 30 }),
    });
    expect(created.status).toBe(201);
    expect(created.headers.get('cache-control')).toBe('no-store');
    const ci = (await created.json()) as any;
    expect(ci).toMatchObject({ name: 'ci', role: 'viewer', apiKey: expect.stringMatching(/^atk_/) });
    expect(ci.prefix).toBe(ci.apiKey.slice(0, ci.prefix.length));
    expect(new Date(ci.expiresAt).getTime() - Date.now()).toBeGreaterThan(29 * 86_400_000);
    const viewer = acme.key.withKey(ci.apiKey);
    expect((await viewer.get('/v1/tasks')).status).toBe(200);
    const write = await viewer.post('/v1/tasks', { type: 'echo', payload: {}, selectors: [] });
    expect(write.status).toBe(403);
    expect(write.body.error).toMatchObject({ code: 'FORBIDDEN', details: { requiredRole: 'editor', role: 'viewer' } });
    expect(write.body.error.message).toContain('editor');

    const list = await acme.key.get('/v1/api-keys');
    const first = list.body.items.find((k: any) => k.name === 'initial admin key');
    expect(first).toMatchObject({ role: 'admin', revokedAt: null, expiresAt: null });
    expect(first.prefix).toBe(acme.key.key.slice(0, first.prefix.length));
    expect(list.body.items.find((k: any) => k.id === ci.id).lastUsedAt).not.toBeNull();
    for (const k of list.body.items) expect(Object.keys(k)).not.toContain('hash');
    expect(list.text).not.toContain(ci.apiKey);
    expect(list.text).not.toContain(acme.key.key);

    const rotated = await acme.key.post(`/v1/api-keys/${ci.id}/rotate`, { graceSeconds: 600 });
    expect(rotated.status).toBe(200);
    expect(new Date(rotated.body.previousSecretValidUntil).getTime() - Date.now()).toBeGreaterThan(590_000);
    const second = acme.key.withKey(rotated.body.apiKey);
    expect((await second.get('/v1/tasks')).status).toBe(200);
    expect((await viewer.get('/v1/tasks')).status).toBe(200);
    // Without a grace period every earlier secret is forgotten at once: they are no longer keys at all.
    const now = await acme.key.post(`/v1/api-keys/${ci.id}/rotate`, { graceSeconds: 0 });
    for (const old of [viewer, second]) {
      const res = await old.get('/v1/tasks');
      expect(res.status).toBe(401);
      expect(res.body.error.code).toBe('UNAUTHENTICATED');
    }
    expect((await acme.key.withKey(now.body.apiKey).get('/v1/tasks')).status).toBe(200);
    expect((await acme.key.post(`/v1/api-keys/${ci.id}/rotate`, { graceSeconds: 8 * 86_400 })).status).toBe(400);
  });

  /**
   * A client that keeps calling with one key until stopped, each answer noted with when it was
   * sent and received. Each loop stops after a few refusals: a client that keeps failing would
   * otherwise reach the failed-authentication limit (100 a minute per address), and this file's
   * later tests share the address.
   */
  function keepCalling(client: Api) {
    const seen: Array<{ sentAt: number; receivedAt: number; status: number; code?: string }> = [];
    let stop = false;
    const loops = Array.from({ length: 3 }, async () => {
      let refusals = 0;
      while (!stop && refusals < 10) {
        const sentAt = performance.now();
        const res = await client.get('/v1/tasks');
        seen.push({ sentAt, receivedAt: performance.now(), status: res.status, code: res.body?.error?.code });
        if (res.status !== 200) refusals++;
      }
    });
    return {
      /** Stops the loops; the answers received before the change was asked for, and those sent after it was answered. */
      async around(askedAt: number, answeredAt: number) {
        await sleep(300);
        stop = true;
        await Promise.all(loops);
        return { before: seen.filter((s) => s.receivedAt < askedAt), after: seen.filter((s) => s.sentAt > answeredAt) };
      },
    };
  }

  it('revokes a key with effect on the very next request of a client that keeps calling', async () => {
    const key = (await acme.key.post('/v1/api-keys', { name: 'busy', role: 'editor' })).body;
    const busy = keepCalling(acme.key.withKey(key.apiKey));
    await sleep(300);
    const revokeSentAt = performance.now();
    const revoked = await acme.key.post(`/v1/api-keys/${key.id}/revoke`);
    const revokedAt = performance.now();
    expect(revoked.body.revokedAt).not.toBeNull();
    const { before, after } = await busy.around(revokeSentAt, revokedAt);
    // Answered before the revocation was asked for: accepted. Sent after it was answered: refused, every one.
    expect(before.length).toBeGreaterThan(0);
    expect(before.filter((s) => s.status !== 200)).toEqual([]);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((s) => s.status === 401 && s.code === 'API_KEY_REVOKED')).toBe(true);
  });

  it('rotates a key without grace with effect on the very next request of a client that keeps calling the old secret', async () => {
    const key = (await acme.key.post('/v1/api-keys', { name: 'busy-rotated', role: 'viewer' })).body;
    const busy = keepCalling(acme.key.withKey(key.apiKey));
    await sleep(300);
    const rotateSentAt = performance.now();
    const rotated = await acme.key.post(`/v1/api-keys/${key.id}/rotate`, { graceSeconds: 0 });
    const rotatedAt = performance.now();
    expect(rotated.status, rotated.text).toBe(200);
    const { before, after } = await busy.around(rotateSentAt, rotatedAt);
    expect(before.length).toBeGreaterThan(0);
    expect(before.filter((s) => s.status !== 200)).toEqual([]);
    expect(after.length).toBeGreaterThan(0);
    // Without a grace period the old secret is no key at all any more.
    expect(after.every((s) => s.status === 401 && s.code === 'UNAUTHENTICATED')).toBe(true);
    expect((await acme.key.withKey(rotated.body.apiKey).get('/v1/tasks')).status).toBe(200);

    // The key's lifecycle is in the audit trail, without either secret.
    await acme.key.post(`/v1/api-keys/${key.id}/revoke`);
    const trail = await acme.key.get(`/v1/audit?target=${key.id}`);
    expect(trail.body.items.map((e: any) => e.action)).toEqual(['api_key.revoke', 'api_key.rotate', 'api_key.create']);
    for (const e of trail.body.items) expect(e).toMatchObject({ actor: { type: 'apiKey', name: 'initial admin key' }, role: 'admin', target: { type: 'api_key', id: key.id, name: 'busy-rotated' }, outcome: 'success' });
    expect(trail.body.items[1].diff).toEqual({ graceSeconds: { changed: true, to: 0 } });
    expect(trail.text).not.toContain(key.apiKey);
    expect(trail.text).not.toContain(rotated.body.apiKey);
  });

  it('lets operators page through, read, suspend and resume tenants; suspension closes live delegates', async () => {
    const gamma = await newTenant('gamma', { email: 'gus@example.com', name: 'Gus', password: PASSWORD });
    const seenNames: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await cp.operator.get(`/v1/tenants?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seenNames.push(...page.body.items.map((t: any) => t.name));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seenNames).toEqual(expect.arrayContaining(['acme', 'gamma']));
    expect(new Set(seenNames).size).toBe(seenNames.length);
    expect((await cp.operator.get(`/v1/tenants/${gamma.id}`)).body).toMatchObject({ id: gamma.id, name: 'gamma', status: 'active' });
    const notOperator = await gamma.key.get('/v1/tenants');
    expect(notOperator.body.error).toMatchObject({ code: 'FORBIDDEN', details: { requiredRole: 'operator' } });

    const token = await createToken({ id: gamma.id, name: 'gamma', api: gamma.key, externalId: '' }, 'gamma-token');
    const delegate = await startDelegate({ id: gamma.id, name: 'gamma', api: gamma.key, externalId: '' }, { url: cp.grpcUrl, token: token.token, name: 'gamma-dlg' });
    const browser = new Browser(cp.httpUrl);
    expect((await browser.signIn('gus@example.com', PASSWORD)).status).toBe(201);

    const suspended = await cp.operator.post(`/v1/tenants/${gamma.id}/suspend`);
    expect(suspended.body).toMatchObject({ status: 'suspended' });
    for (const res of [await gamma.key.get('/v1/tasks'), await browser.get('/v1/me'), await new Browser(cp.httpUrl).signIn('gus@example.com', PASSWORD)]) {
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('TENANT_SUSPENDED');
    }
    await eventually(
      async () => (jsonLines(cp.proc).some((l) => l['msg'] === 'delegate disconnected' && String(l['reason']).includes('TENANT_SUSPENDED')) ? true : undefined),
      10_000,
      'the live delegate to be closed',
    );
    await eventually(
      async () => (jsonLines(cp.proc).some((l) => l['msg'] === 'delegate connection refused: tenant suspended') ? true : undefined),
      15_000,
      'the reconnecting delegate to be refused',
    );
    // The refusal is final for the delegate (exit 3, as for a revoked token); its supervisor restarts it once resumed.
    await eventually(async () => (delegate.running ? undefined : true), 20_000, 'the refused delegate to exit');
    expect((await delegate.exited).code).toBe(3);
    expect(delegate.lines.some((l) => l.includes('TENANT_SUSPENDED'))).toBe(true);

    expect((await cp.operator.post(`/v1/tenants/${gamma.id}/resume`)).body).toMatchObject({ status: 'active', suspendedAt: null });
    expect((await gamma.key.get('/v1/tasks')).status).toBe(200);
    expect((await browser.get('/v1/me')).status).toBe(200);
  });

  it('issues a new admin key and a password reset for a tenant that lost its credentials', async () => {
    const issued = await cp.operator.post(`/v1/tenants/${acme.id}/admin-credentials`, { keyName: 'break-glass', user: { email: 'ann@example.com', password: 'the operator reset it' } });
    expect(issued.status, issued.text).toBe(201);
    expect(issued.body.apiKey).toMatchObject({ name: 'break-glass', role: 'admin', apiKey: expect.stringMatching(/^atk_/) });
    expect(issued.body.user).toMatchObject({ email: 'ann@example.com', role: 'admin', status: 'active' });
    expect((await acme.key.withKey(issued.body.apiKey.apiKey).get('/v1/users')).status).toBe(200);
    expect((await new Browser(cp.httpUrl).signIn('ann@example.com', 'the operator reset it', 'acme')).status).toBe(201);
    expect((await cp.operator.post('/v1/tenants/ten_missing/admin-credentials', {})).status).toBe(404);
  });
});

describe('identity: session timeouts and Secure cookies', () => {
  let cp: ControlPlaneHandle;

  beforeAll(async () => {
    cp = await startControlPlane({ ATTACHE_SESSION_IDLE_SECONDS: '2', ATTACHE_SESSION_MAX_SECONDS: '5', ATTACHE_PUBLIC_URL: 'https://attache.example.com' });
    expect((await cp.operator.post('/v1/tenants', { name: 'timeouts', admin: { email: 'tim@example.com', name: 'Tim', password: PASSWORD } })).status).toBe(201);
  });
  afterAll(async () => cp?.stop());

  /** The cookie jar rightly keeps Secure cookies off plain HTTP; this test talks to the listener behind the TLS proxy. */
  async function signIn(): Promise<{ browser: Browser; cookie: string }> {
    const browser = new Browser(cp.httpUrl);
    const res = await browser.signIn('tim@example.com', PASSWORD);
    expect(res.status).toBe(201);
    const session = browser.lastSetCookies.find((c) => c.key === 'attache_session')!;
    expect(session.secure).toBe(true);
    expect(browser.lastSetCookies.find((c) => c.key === 'attache_csrf')!.secure).toBe(true);
    return { browser, cookie: session.value };
  }
  const me = (cookie: string) => fetch(`${cp.httpUrl}/v1/me`, { headers: { cookie: `attache_session=${cookie}` } }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

  it('marks cookies Secure when the public URL is https, and ends an idle session', async () => {
    const { cookie } = await signIn();
    expect((await me(cookie)).status).toBe(200);
    await sleep(2_300);
    const idle = await me(cookie);
    expect(idle.status).toBe(401);
    expect(idle.body.error.code).toBe('SESSION_EXPIRED');
  });

  it('ends a session at its absolute timeout even while it is in use', async () => {
    const { cookie } = await signIn();
    const started = Date.now();
    let last = await me(cookie);
    while (last.status === 200 && Date.now() - started < 8_000) {
      await sleep(400);
      last = await me(cookie);
    }
    expect(last.body.error?.code).toBe('SESSION_EXPIRED');
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_500);
  });
});

/** The same lifecycle on the scale-out store: sessions, the last-admin rule, rotation and revocation, suspension. */
describe('identity on PostgreSQL', () => {
  let pg: PostgresServer;
  let cp: ControlPlaneHandle;
  let key: Api;

  beforeAll(async () => {
    pg = await startPostgres();
    cp = await startControlPlane({ ATTACHE_DATABASE_URL: await pg.createDatabase('identity') });
    const res = await cp.operator.post('/v1/tenants', { name: 'pg-acme', admin: { email: 'pat@example.com', name: 'Pat', password: PASSWORD } });
    expect(res.status, res.text).toBe(201);
    key = cp.operator.withKey(res.body.apiKey);
  });
  afterAll(async () => {
    await cp?.stop();
    await pg?.stop();
  });

  it('signs in, enforces CSRF and roles, keeps the last admin, and signs out', async () => {
    const browser = new Browser(cp.httpUrl);
    expect((await browser.signIn('pat@example.com', PASSWORD)).status).toBe(201);
    expect((await browser.get('/v1/me')).body).toMatchObject({ kind: 'user', role: 'admin' });
    expect((await browser.post('/v1/users', { email: 'v@example.com', name: 'V', role: 'viewer' }, { csrf: false })).body.error.code).toBe('CSRF_TOKEN_INVALID');
    const viewer = await browser.post('/v1/users', { email: 'v@example.com', name: 'V', role: 'viewer', password: PASSWORD });
    expect(viewer.status, viewer.text).toBe(201);
    const pat = ((await browser.get('/v1/users')).body.items as any[]).find((u) => u.email === 'pat@example.com');
    expect((await browser.patch(`/v1/users/${pat.id}`, { role: 'viewer' })).body.error.code).toBe('LAST_ADMIN');
    const v = new Browser(cp.httpUrl);
    expect((await v.signIn('v@example.com', PASSWORD)).status).toBe(201);
    expect((await v.post('/v1/tasks', { type: 'echo', payload: {}, selectors: [] })).body.error).toMatchObject({ code: 'FORBIDDEN', details: { requiredRole: 'editor' } });
    expect((await browser.delete('/v1/session')).status).toBe(204);
    expect((await browser.get('/v1/me')).status).toBe(401);
  });

  it('rotates and revokes API keys with effect on the next request, and suspends the tenant', async () => {
    const created = await key.post('/v1/api-keys', { name: 'pg-ci', role: 'editor' });
    const first = key.withKey(created.body.apiKey);
    expect((await first.get('/v1/tasks')).status).toBe(200);
    const rotated = await key.post(`/v1/api-keys/${created.body.id}/rotate`, { graceSeconds: 0 });
    const second = key.withKey(rotated.body.apiKey);
    expect((await first.get('/v1/tasks')).status).toBe(401);
    expect((await second.get('/v1/tasks')).status).toBe(200);
    await key.post(`/v1/api-keys/${created.body.id}/revoke`);
    expect((await second.get('/v1/tasks')).body.error.code).toBe('API_KEY_REVOKED');

    const tenantId = (await key.get('/v1/me')).body.tenant.id;
    await cp.operator.post(`/v1/tenants/${tenantId}/suspend`);
    expect((await key.get('/v1/tasks')).body.error.code).toBe('TENANT_SUSPENDED');
    await cp.operator.post(`/v1/tenants/${tenantId}/resume`);
    expect((await key.get('/v1/tasks')).status).toBe(200);
  });
});
