import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './support/browser.js';
import { startControlPlane, type ControlPlaneHandle } from './support/cluster.js';
import { startOidcProvider, type OidcProvider } from './support/oidc.js';
import { freePort } from './support/ports.js';
import { postgresBinDir, startPostgres, type PostgresServer } from './support/postgres.js';

const run = promisify(execFile);

const SECRET = 'attache-client-secret-for-tests';

/**
 * OIDC sign-in (authorization code + PKCE) against a real OpenID Provider (the certified
 * `oidc-provider` package, its own process) and a real control-plane process, driven by a client
 * with a real cookie jar that follows every redirect and logs in at the provider over plain HTTP.
 */
describe.each(['sqlite', 'postgres'] as const)('OIDC sign-in (%s store)', (storeKind) => {
  let pg: PostgresServer | undefined;
  let databaseUrl: string | undefined;
  let cp: ControlPlaneHandle;
  let idp: OidcProvider;
  let skewed: OidcProvider;
  let callbackUrl: string;
  const admins: Record<string, ReturnType<ControlPlaneHandle['operator']['withKey']>> = {};

  beforeAll(async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    callbackUrl = `${publicUrl}/v1/session/oidc/callback`;
    const client = (client_id: string) => ({ client_id, client_secret: SECRET, redirect_uris: [callbackUrl] });
    [idp, skewed] = await Promise.all([
      startOidcProvider({
        clients: [client('attache'), client('attache-misissued'), client('other-app')],
        // ID tokens for "attache-misissued" are signed by the provider but carry "other-app" as audience.
        misissueAudience: { 'attache-misissued': 'other-app' },
        accounts: {
          ann: { email: 'Ann@Example.com', email_verified: true, name: 'Ann Admin', groups: ['staff', 'attache-admins'] },
          ed: { email: 'ed@example.com', email_verified: true, name: 'Ed Editor', groups: ['attache-editors'] },
          vic: { email: 'vic@example.com', email_verified: true, name: 'Vic', groups: [] },
          eve: { email: 'eve@example.com.evil.example', email_verified: true, name: 'Eve', groups: ['attache-admins'] },
          una: { email: 'una@example.com', email_verified: false, name: 'Una', groups: ['attache-admins'] },
        },
      }),
      // A provider whose clock is 10 minutes behind, with 1-minute ID tokens: what it issues has expired.
      startOidcProvider({
        clients: [client('attache')],
        clockOffsetSeconds: -600,
        idTokenTtlSeconds: 60,
        accounts: { ann: { email: 'ann@example.com', email_verified: true, name: 'Ann', groups: ['attache-admins'] } },
      }),
    ]);
    if (storeKind === 'postgres') {
      pg = await startPostgres();
      databaseUrl = await pg.createDatabase('oidc');
    }
    cp = await startControlPlane(
      {
        ATTACHE_PUBLIC_URL: publicUrl,
        ATTACHE_OIDC_INSECURE_ISSUERS: `${idp.issuer},${skewed.issuer}`,
        ...(databaseUrl ? { ATTACHE_DATABASE_URL: databaseUrl } : {}),
      },
      { httpPort: port },
    );
    for (const name of ['acme', 'misaud', 'skew', 'plain']) {
      const res = await cp.operator.post('/v1/tenants', { name, admin: { email: `root@${name}.example`, name: 'Root' } });
      expect(res.status, res.text).toBe(201);
      admins[name] = cp.operator.withKey(res.body.apiKey);
    }
    const rules = { allowedEmailDomains: ['example.com'], roleClaim: 'groups', roleMapping: { 'attache-admins': 'admin', 'attache-editors': 'editor' } };
    for (const [tenant, issuer, clientId] of [
      ['acme', idp.issuer, 'attache'],
      ['misaud', idp.issuer, 'attache-misissued'],
      ['skew', skewed.issuer, 'attache'],
    ] as const) {
      const res = await admins[tenant]!.request('PUT', '/v1/oidc', { issuer, clientId, clientSecret: SECRET, ...rules });
      expect(res.status, res.text).toBe(200);
    }
  }, 60_000);
  afterAll(async () => {
    await cp?.stop();
    await Promise.all([idp?.stop(), skewed?.stop(), pg?.stop()]);
  });

  /** Everything the store holds, as someone with a copy of the database would read it. */
  async function databaseBytes(): Promise<Buffer> {
    if (!databaseUrl) {
      const files = await Promise.all(['attache.db', 'attache.db-wal'].map((f) => readFile(join(cp.dataDir, f)).catch(() => Buffer.alloc(0))));
      return Buffer.concat(files);
    }
    const url = new URL(databaseUrl);
    const { stdout } = await run(
      join(postgresBinDir(), 'pg_dump'),
      ['-h', url.hostname, '-p', url.port, '-U', 'postgres', '--no-owner', decodeURIComponent(url.pathname.slice(1))],
      { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' }, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
    );
    return stdout;
  }

  /** Start → provider login as `login` → consent → back; stops before the callback and returns its URL. */
  async function throughProvider(browser: Browser, tenant: string, login: string, returnTo = '/console/accounts?tab=aws'): Promise<string> {
    const start = await browser.navigate(`${cp.httpUrl}/v1/session/oidc/start?tenant=${tenant}&returnTo=${encodeURIComponent(returnTo)}`);
    expect(start.status, start.text).toBe(302);
    const loginPage = await browser.follow(start.location!);
    expect(loginPage.status, loginPage.text).toBe(200);
    expect(loginPage.url).toMatch(/\/interaction\/[^/]+$/);
    const posted = await browser.navigate(`${loginPage.url}/login`, { login });
    expect(posted.status, posted.text).toBe(303);
    const back = await browser.follow(posted.location!, (next) => next.startsWith(callbackUrl));
    expect(back.url.startsWith(`${callbackUrl}?`), `${back.status} ${back.url} ${back.text}`).toBe(true);
    return back.url;
  }

  async function callbackError(browser: Browser, url: string): Promise<{ status: number; code: string; details: any }> {
    const res = await browser.navigate(url);
    const body = JSON.parse(res.text);
    expect(browser.lastSetCookies.find((c) => c.key === 'attache_session' && c.value)).toBeUndefined();
    return { status: res.status, code: body.error?.code, details: body.error?.details };
  }

  it('keeps the configuration with the secret sealed: never returned, refused for issuers it may not reach', async () => {
    const got = await admins['acme']!.get('/v1/oidc');
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ issuer: idp.issuer, clientId: 'attache', clientSecretSet: true, allowedEmailDomains: ['example.com'], redirectUri: callbackUrl, defaultRole: null });
    expect(got.text).not.toContain(SECRET);
    const http = await admins['plain']!.request('PUT', '/v1/oidc', { issuer: 'http://127.0.0.1:1', clientId: 'x', allowedEmailDomains: ['example.com'] });
    expect(http.status).toBe(400);
    expect(http.text).toContain('ATTACHE_OIDC_INSECURE_ISSUERS');
    const nowhere = await admins['plain']!.request('PUT', '/v1/oidc', { issuer: `${idp.issuer}/no-such-realm`, clientId: 'x', allowedEmailDomains: ['example.com'] });
    expect(nowhere.status, nowhere.text).toBe(502);
    expect(nowhere.body.error.code).toBe('OIDC_PROVIDER_UNREACHABLE');
    expect((await admins['plain']!.get('/v1/oidc')).body.error.code).toBe('OIDC_NOT_CONFIGURED');
    // A tenant without a provider, and one that does not exist, answer alike.
    const browser = new Browser(cp.httpUrl);
    for (const tenant of ['plain', 'no-such-tenant']) {
      const res = await browser.navigate(`${cp.httpUrl}/v1/session/oidc/start?tenant=${tenant}`);
      expect(res.status).toBe(404);
      expect(JSON.parse(res.text).error.code).toBe('OIDC_NOT_CONFIGURED');
    }
    // The database holds the secret sealed, not in the clear.
    const stored = await databaseBytes();
    expect(stored.includes('attache-misissued')).toBe(true);
    expect(stored.includes(SECRET)).toBe(false);
  });

  it('signs a person in with PKCE: mapped role, user created, session cookies, back to the same-origin returnTo', async () => {
    const browser = new Browser(cp.httpUrl);
    const start = await browser.navigate(`${cp.httpUrl}/v1/session/oidc/start?tenant=acme&returnTo=%2Fconsole`);
    const auth = new URL(start.location!);
    expect(auth.origin).toBe(idp.issuer);
    expect(auth.searchParams.get('client_id')).toBe('attache');
    expect(auth.searchParams.get('redirect_uri')).toBe(callbackUrl);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(auth.searchParams.get('state')).toBeTruthy();
    expect(auth.searchParams.get('nonce')).toBeTruthy();
    const binding = browser.lastSetCookies.find((c) => c.key === 'attache_oidc')!;
    expect(binding).toMatchObject({ httpOnly: true, sameSite: 'lax', path: '/v1/session/oidc' });

    const url = await throughProvider(browser, 'acme', 'ann', '/console/accounts?tab=aws');
    const done = await browser.navigate(url);
    expect(done.status, done.text).toBe(302);
    expect(done.location).toBe(`${cp.httpUrl}/console/accounts?tab=aws`);
    expect(done.headers['cache-control']).toBe('no-store');
    const session = browser.lastSetCookies.find((c) => c.key === 'attache_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'lax', path: '/' });
    expect(browser.lastSetCookies.find((c) => c.key === 'attache_csrf')?.value).toBeTruthy();

    const me = await browser.get('/v1/me');
    expect(me.status, me.text).toBe(200);
    expect(me.body).toMatchObject({ kind: 'user', role: 'admin', tenant: { name: 'acme' }, user: { email: 'ann@example.com', name: 'Ann Admin', role: 'admin', hasPassword: false } });
    // The session is a full one: CSRF-protected changes work with it.
    const created = await browser.post('/v1/users', { email: 'made-by-ann@example.com', name: 'Made', role: 'viewer' });
    expect(created.status, created.text).toBe(201);

    // A second person, another mapped role; the provider is the source of truth for the role.
    const edBrowser = new Browser(cp.httpUrl);
    expect((await edBrowser.navigate(await throughProvider(edBrowser, 'acme', 'ed'))).status).toBe(302);
    expect((await edBrowser.get('/v1/me')).body).toMatchObject({ role: 'editor', user: { email: 'ed@example.com' } });
    await admins['acme']!.patch(`/v1/users/${(await edBrowser.get('/v1/me')).body.user.id}`, { role: 'viewer' });
    const again = new Browser(cp.httpUrl);
    expect((await again.navigate(await throughProvider(again, 'acme', 'ed'))).status).toBe(302);
    expect((await again.get('/v1/me')).body.role).toBe('editor');
  });

  it('refuses a replayed state: the same callback URL works once', async () => {
    const browser = new Browser(cp.httpUrl);
    const url = await throughProvider(browser, 'acme', 'ann');
    expect((await browser.navigate(url)).status).toBe(302);
    const replay = await callbackError(browser, url);
    expect(replay).toMatchObject({ status: 400, code: 'OIDC_STATE_INVALID', details: { reason: 'unknown-or-used' } });
  });

  it('refuses a tampered state without spoiling the real one, and a callback opened in another browser', async () => {
    const browser = new Browser(cp.httpUrl);
    const url = new URL(await throughProvider(browser, 'acme', 'ann'));
    const tampered = new URL(url);
    tampered.searchParams.set('state', `${url.searchParams.get('state')}x`);
    expect(await callbackError(browser, tampered.toString())).toMatchObject({ status: 400, code: 'OIDC_STATE_INVALID' });
    expect((await browser.navigate(url.toString())).status).toBe(302);
    expect((await browser.get('/v1/me')).status).toBe(200);

    // Login CSRF: a victim's browser sent to an attacker's callback URL does not get the attacker's session.
    const attacker = new Browser(cp.httpUrl);
    const planted = await throughProvider(attacker, 'acme', 'ann');
    const victim = new Browser(cp.httpUrl);
    expect(await callbackError(victim, planted)).toMatchObject({ status: 400, code: 'OIDC_STATE_INVALID', details: { reason: 'other-browser' } });
    expect((await victim.get('/v1/me')).status).toBe(401);
  });

  it('refuses an ID token issued for another audience', async () => {
    const browser = new Browser(cp.httpUrl);
    const error = await callbackError(browser, await throughProvider(browser, 'misaud', 'ann'));
    expect(error).toMatchObject({ status: 401, code: 'OIDC_TOKEN_INVALID' });
    expect(error.details).toMatchObject({ claim: 'aud', libraryCode: 'OAUTH_JWT_CLAIM_COMPARISON_FAILED' });
    expect(error.details.reason).toContain('audience');
    expect((await browser.get('/v1/me')).status).toBe(401);
  });

  it('refuses an expired ID token', async () => {
    const browser = new Browser(cp.httpUrl);
    const error = await callbackError(browser, await throughProvider(browser, 'skew', 'ann'));
    expect(error).toMatchObject({ status: 401, code: 'OIDC_TOKEN_INVALID' });
    expect(error.details).toMatchObject({ claim: 'exp', libraryCode: 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED' });
    expect(error.details.reason).toContain('expiration');
    expect((await browser.get('/v1/me')).status).toBe(401);
  });

  it('refuses emails outside the allowed domains, unverified emails, unmapped roles and disabled users', async () => {
    const cases: Array<[string, string]> = [
      ['eve', 'OIDC_EMAIL_NOT_ALLOWED'],
      ['una', 'OIDC_EMAIL_UNVERIFIED'],
      ['vic', 'OIDC_ROLE_UNMAPPED'],
    ];
    for (const [login, code] of cases) {
      const browser = new Browser(cp.httpUrl);
      expect(await callbackError(browser, await throughProvider(browser, 'acme', login)), login).toMatchObject({ status: 403, code });
    }
    const users = (await admins['acme']!.get('/v1/users')).body.items as Array<{ id: string; email: string }>;
    expect(users.map((u) => u.email)).not.toContain('eve@example.com.evil.example');
    const ed = users.find((u) => u.email === 'ed@example.com')!;
    expect((await admins['acme']!.patch(`/v1/users/${ed.id}`, { status: 'disabled' })).status).toBe(200);
    const browser = new Browser(cp.httpUrl);
    expect(await callbackError(browser, await throughProvider(browser, 'acme', 'ed'))).toMatchObject({ status: 403, code: 'OIDC_USER_DISABLED' });
  });

  it('sends people back only to paths on this origin', async () => {
    const browser = new Browser(cp.httpUrl);
    for (const returnTo of ['//evil.example/x', 'https://evil.example/', '/\\evil.example']) {
      const res = await browser.navigate(`${cp.httpUrl}/v1/session/oidc/start?tenant=acme&returnTo=${encodeURIComponent(returnTo)}`);
      expect(res.status, returnTo).toBe(400);
      expect(res.location).toBeNull();
    }
  });

  it("records OIDC sign-ins and refused ones in the tenant's audit trail, with who, from where and why", async () => {
    const browser = new Browser(cp.httpUrl);
    expect((await browser.navigate(await throughProvider(browser, 'acme', 'ann'))).status).toBe(302);
    const acme = admins['acme']!;
    const tenantId = (await acme.get('/v1/me')).body.tenant.id;
    const annId = (await browser.get('/v1/me')).body.user.id;
    const signIns = await acme.get('/v1/audit?action=session.sign_in&actor=ann@example.com');
    expect(signIns.status, signIns.text).toBe(200);
    expect(signIns.body.items[0]).toMatchObject({
      tenantId,
      actor: { type: 'user', id: annId, email: 'ann@example.com' },
      role: 'admin',
      clientAddress: browser.localAddress,
      target: { type: 'user', id: annId, name: 'ann@example.com' },
      outcome: 'success',
      diff: {},
      details: { method: 'oidc' },
    });
    // Refusals are recorded where the sign-in was headed once its state names it; a forged or
    // replayed state names no sign-in in progress, so no tenant's trail gets it (as an unknown email).
    const failed = await acme.get('/v1/audit?action=session.sign_in_failed');
    expect(failed.body.items.map((e: any) => [e.outcome, e.target.name])).toEqual([
      ['OIDC_USER_DISABLED', 'ed@example.com'],
      ['OIDC_ROLE_UNMAPPED', 'vic@example.com'],
      ['OIDC_EMAIL_UNVERIFIED', 'una@example.com'],
      ['OIDC_EMAIL_NOT_ALLOWED', 'eve@example.com.evil.example'],
      ['OIDC_STATE_INVALID', null],
    ]);
    for (const e of failed.body.items) expect(e).toMatchObject({ actor: { type: 'anonymous' }, role: null, target: { type: 'user', id: null }, details: { method: 'oidc' } });
    for (const tenant of ['misaud', 'skew']) {
      const trail = await admins[tenant]!.get('/v1/audit?action=session.sign_in_failed');
      expect(trail.body.items.map((e: any) => e.outcome), tenant).toEqual(['OIDC_TOKEN_INVALID']);
    }
    expect((await admins['plain']!.get('/v1/audit?action=session.sign_in_failed')).body.items).toEqual([]);
    expect(JSON.stringify(failed.body) + JSON.stringify(signIns.body)).not.toContain(SECRET);
  });

  it('refuses to start a sign-in for a suspended tenant', async () => {
    expect((await cp.operator.post(`/v1/tenants/${(await admins['skew']!.get('/v1/me')).body.tenant.id}/suspend`)).status).toBe(200);
    const res = await new Browser(cp.httpUrl).navigate(`${cp.httpUrl}/v1/session/oidc/start?tenant=skew`);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.text).error.code).toBe('TENANT_SUSPENDED');
  });
});
