import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Browser } from './support/browser.js';
import { runCli, startCli, type CliProcess, type CliRun } from './support/cli.js';
import { createTenant, startControlPlane, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { startOidcProvider, type OidcProvider } from './support/oidc.js';
import { freePort } from './support/ports.js';

const SECRET = 'attache-client-secret-for-cli-tests';
const START_URL = /(http:\/\/\S+\/v1\/session\/oidc\/start\?\S+)/;

/**
 * `attache login --oidc` as a person runs it: the built CLI as a process, a real control plane, the
 * real `oidc-provider` in its own process. The test is the browser: it follows the URL the CLI
 * printed through the provider's login, and is sent back to the CLI's loopback receiver, which
 * exchanges the code and stores the session. Nothing is checked through a back door.
 */
describe('attache login --oidc: the CLI signs in through the browser (RFC 8252, PKCE)', () => {
  let cp: ControlPlaneHandle;
  let idp: OidcProvider;
  let tenant: TenantHandle;
  let home: string;
  let env: Record<string, string>;
  let configFile: string;

  beforeAll(async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    idp = await startOidcProvider({
      clients: [{ client_id: 'attache', client_secret: SECRET, redirect_uris: [`${publicUrl}/v1/session/oidc/callback`] }],
      accounts: {
        ann: { email: 'ann@example.com', email_verified: true, name: 'Ann Admin', groups: ['attache-admins'] },
        ed: { email: 'ed@example.com', email_verified: true, name: 'Ed Editor', groups: ['attache-editors'] },
        eve: { email: 'eve@elsewhere.example', email_verified: true, name: 'Eve', groups: ['attache-admins'] },
      },
    });
    cp = await startControlPlane({ ATTACHE_PUBLIC_URL: publicUrl, ATTACHE_OIDC_INSECURE_ISSUERS: idp.issuer }, { httpPort: port });
    tenant = await createTenant(cp, 'acme');
    const configured = await tenant.api.request('PUT', '/v1/oidc', {
      issuer: idp.issuer,
      clientId: 'attache',
      clientSecret: SECRET,
      allowedEmailDomains: ['example.com'],
      roleClaim: 'groups',
      roleMapping: { 'attache-admins': 'admin', 'attache-editors': 'editor' },
    });
    expect(configured.status, configured.text).toBe(200);
    home = await mkdtemp(join(tmpdir(), 'attache-cli-oidc-home-'));
    env = { HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') };
    configFile = join(home, 'xdg', 'attache', 'config.json');
  }, 60_000);

  afterAll(async () => {
    await cp?.stop();
    await idp?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const cli = (args: string[]): Promise<CliRun> => runCli(args, { env });
  const ok = async (args: string[]): Promise<CliRun> => {
    const run = await cli(args);
    expect(run.code, `attache ${args.join(' ')}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(0);
    return run;
  };
  const readConfigFile = async (): Promise<any> => JSON.parse(await readFile(configFile, 'utf8'));

  /** The browser: the start URL, the provider's login as `login`, back through the control plane; stops before the loopback. */
  async function throughProvider(browser: Browser, start: string, login: string): Promise<string> {
    const redirectUri = new URL(start).searchParams.get('redirectUri')!;
    const toProvider = await browser.navigate(start);
    expect(toProvider.status, toProvider.text).toBe(302);
    expect(new URL(toProvider.location!).origin).toBe(idp.issuer);
    const loginPage = await browser.follow(toProvider.location!);
    expect(loginPage.url).toMatch(/\/interaction\/[^/]+$/);
    const posted = await browser.navigate(`${loginPage.url}/login`, { login });
    expect(posted.status, posted.text).toBe(303);
    const back = await browser.follow(posted.location!, (next) => next.startsWith(redirectUri));
    expect(back.url.startsWith(`${redirectUri}?`), `${back.status} ${back.url} ${back.text}`).toBe(true);
    return back.url;
  }

  /** A whole CLI sign-in as `login` into `context`; returns the CLI's outcome and the browser's last page. */
  async function signIn(context: string, login: string): Promise<{ run: CliRun; page: { status: number; text: string }; loopback: string }> {
    const proc = startCli(['--context', context, 'login', '--url', cp.httpUrl, '--oidc', '--tenant', 'acme', '--no-browser'], { env });
    const start = await printedStartUrl(proc);
    const browser = new Browser(cp.httpUrl);
    const loopback = await throughProvider(browser, start, login);
    const page = await browser.navigate(loopback);
    return { run: await proc.done, page, loopback };
  }

  /** The start URL the CLI printed to standard error. */
  async function printedStartUrl(proc: CliProcess): Promise<string> {
    return (await proc.stderrMatching(START_URL))[1]!;
  }

  async function auditOf(action: string): Promise<any[]> {
    const res = await tenant.api.get(`/v1/audit?action=${action}`);
    expect(res.status, res.text).toBe(200);
    return res.body.items;
  }

  const pkce = () => {
    const verifier = randomBytes(32).toString('base64url');
    return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
  };
  const exchange = async (body: unknown) => {
    const res = await fetch(`${cp.httpUrl}/v1/session/oidc/exchange`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as any };
  };

  it('signs in, stores the session in a 0600 context, and the CLI works with it as the user, audited as the user', async () => {
    const { run, page } = await signIn('sso', 'ann');
    expect(run.code, `stdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(0);
    expect(page.status).toBe(200);
    expect(page.text).toContain('Signed in');
    expect(run.stdout).toContain('as ann@example.com (admin) in tenant acme as context "sso"');
    expect(run.stderr).toMatch(/Open this URL in a browser/);

    expect((await stat(configFile)).mode & 0o777).toBe(0o600);
    const config = await readConfigFile();
    const saved = config.contexts.sso;
    expect(config.currentContext).toBe('sso');
    expect(saved).toMatchObject({ url: cp.httpUrl, externalId: tenant.externalId, session: { user: 'ann@example.com', tenant: 'acme', role: 'admin', idleTimeoutSeconds: 1800 } });
    expect(saved.apiKey).toBeUndefined();
    expect(saved.session.token).toMatch(/^ats_/);
    expect(run.stdout + run.stderr).not.toContain(saved.session.token);

    const me = JSON.parse((await ok(['whoami', '-o', 'json'])).stdout);
    expect(me).toMatchObject({ kind: 'user', role: 'admin', tenant: { name: 'acme' }, user: { email: 'ann@example.com' } });
    expect(JSON.parse((await ok(['accounts', 'list', '-o', 'json'])).stdout)).toMatchObject({ items: [] });
    // A change, sent with the bearer token and no CSRF token: bearer use needs none.
    const token = JSON.parse((await ok(['tokens', 'create', 'made-through-sso', '-o', 'json'])).stdout);
    expect(token).toMatchObject({ name: 'made-through-sso', status: 'active' });
    const listed = JSON.parse((await ok(['context', 'list', '-o', 'json'])).stdout);
    expect(listed.items).toEqual([{ name: 'sso', current: true, url: cp.httpUrl, externalId: tenant.externalId, credential: 'session', user: 'ann@example.com' }]);

    // The same session as a cookie keeps the cookie path's CSRF rule.
    const asCookie = await fetch(`${cp.httpUrl}/v1/delegate-tokens`, {
      method: 'POST',
      headers: { cookie: `attache_session=${saved.session.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'csrf-less' }),
    });
    expect(asCookie.status).toBe(403);
    expect(((await asCookie.json()) as any).error.code).toBe('CSRF_TOKEN_INVALID');

    const signIns = await auditOf('session.cli_sign_in');
    expect(signIns).toHaveLength(1);
    expect(signIns[0]).toMatchObject({ actor: { type: 'user', email: 'ann@example.com' }, role: 'admin', outcome: 'success', target: { type: 'user', name: 'ann@example.com' } });
    const created = (await auditOf('token.create')).find((e) => e.target.name === 'made-through-sso');
    expect(created).toMatchObject({ actor: { type: 'user', email: 'ann@example.com' }, role: 'admin', outcome: 'success' });
  });

  it('logout ends the session at the control plane and forgets the context', async () => {
    const token = (await readConfigFile()).contexts.sso.session.token as string;
    expect((await cp.operator.withKey(token).get('/v1/me')).status).toBe(200);
    const out = await ok(['logout']);
    expect(out.stdout).toContain('logged out of context "sso"; the session is ended');
    const after = await cp.operator.withKey(token).get('/v1/me');
    expect(after.status).toBe(401);
    expect(after.body.error.code).toBe('UNAUTHENTICATED');
    const config = await readConfigFile();
    expect(config.contexts.sso).toBeUndefined();
    expect(config.currentContext).toBeNull();
    expect((await auditOf('session.sign_out')).some((e) => e.actor.email === 'ann@example.com')).toBe(true);
    const run = await cli(['accounts', 'list']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^error: NOT_LOGGED_IN: /m);
  });

  it("an admin ending the user's sessions ends the CLI's credential; the user's role is read on every request", async () => {
    const { run } = await signIn('ed', 'ed');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('as ed@example.com (editor)');
    expect((await ok(['--context', 'ed', 'accounts', 'list'])).code).toBe(0);
    const denied = await cli(['--context', 'ed', 'tokens', 'create', 'not-for-editors']);
    expect(denied.code).toBe(3);
    expect(denied.stderr).toMatch(/^error: FORBIDDEN: This needs the admin role/m);

    const ed = ((await tenant.api.get('/v1/users')).body.items as Array<{ id: string; email: string }>).find((u) => u.email === 'ed@example.com')!;
    expect((await tenant.api.post(`/v1/users/${ed.id}/sessions/revoke`)).status).toBe(200);
    const ended = await cli(['--context', 'ed', 'accounts', 'list']);
    expect(ended.code).toBe(3);
    expect(ended.stderr).toMatch(/^error: UNAUTHENTICATED: This session has ended/m);
  });

  it('refuses to start a CLI sign-in whose redirect is not a loopback address', async () => {
    const { challenge } = pkce();
    const browser = new Browser(cp.httpUrl);
    for (const redirectUri of ['http://attacker.example:8080/callback', 'https://127.0.0.1:8080/callback', 'http://127.0.0.1:8080@attacker.example/callback']) {
      const q = new URLSearchParams({ tenant: 'acme', redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256', state: 'a-state-of-the-cli-0123' });
      const res = await browser.navigate(`${cp.httpUrl}/v1/session/oidc/start?${q}`);
      expect(res.status, redirectUri).toBe(400);
      expect(res.location).toBeNull();
      expect(JSON.parse(res.text).error.code).toBe('OIDC_REDIRECT_NOT_LOOPBACK');
    }
  });

  it('a code is exchanged once, only with its verifier and redirect; refusals are audited in the tenant', async () => {
    const redirectUri = 'http://127.0.0.1:9/callback';
    const state = 'state-chosen-by-this-test';
    const codeFor = async (challenge: string): Promise<string> => {
      const q = new URLSearchParams({ tenant: 'acme', redirectUri, codeChallenge: challenge, codeChallengeMethod: 'S256', state });
      const back = new URL(await throughProvider(new Browser(cp.httpUrl), `${cp.httpUrl}/v1/session/oidc/start?${q}`, 'ann'));
      expect(back.searchParams.get('state')).toBe(state);
      return back.searchParams.get('code')!;
    };
    const before = (await auditOf('session.cli_sign_in_failed')).length;

    const first = pkce();
    const burned = await codeFor(first.challenge);
    const wrong = await exchange({ code: burned, codeVerifier: pkce().verifier, redirectUri });
    expect(wrong).toMatchObject({ status: 400, body: { error: { code: 'OIDC_CODE_INVALID', details: { reason: 'verifier-mismatch' } } } });
    // The failed attempt spent it: the right verifier is too late.
    expect(await exchange({ code: burned, codeVerifier: first.verifier, redirectUri })).toMatchObject({ status: 400, body: { error: { details: { reason: 'unknown-or-used' } } } });

    const second = pkce();
    const code = await codeFor(second.challenge);
    expect(await exchange({ code, codeVerifier: second.verifier, redirectUri: 'http://127.0.0.1:10/callback' })).toMatchObject({
      status: 400,
      body: { error: { code: 'OIDC_CODE_INVALID', details: { reason: 'redirect-mismatch' } } },
    });
    const third = pkce();
    const good = await codeFor(third.challenge);
    const exchanged = await exchange({ code: good, codeVerifier: third.verifier, redirectUri });
    expect(exchanged.status).toBe(201);
    expect(exchanged.body).toMatchObject({ tokenType: 'Bearer', role: 'admin', tenant: { name: 'acme' }, user: { email: 'ann@example.com' } });
    expect((await cp.operator.withKey(exchanged.body.token).get('/v1/me')).body).toMatchObject({ kind: 'user', user: { email: 'ann@example.com' } });
    // Replayed: refused, whoever sends it.
    expect(await exchange({ code: good, codeVerifier: third.verifier, redirectUri })).toMatchObject({ status: 400, body: { error: { code: 'OIDC_CODE_INVALID', details: { reason: 'unknown-or-used' } } } });

    // The verifier and redirect refusals name the code's tenant: they are in its trail (the replays, of no known code, are not).
    const failed = (await auditOf('session.cli_sign_in_failed')).slice(0, -before || undefined);
    expect(failed.map((e) => e.outcome)).toEqual(['OIDC_CODE_INVALID', 'OIDC_CODE_INVALID']);
    expect(failed[0]).toMatchObject({ actor: { type: 'anonymous' }, target: { type: 'user' } });
  });

  it('the CLI refuses a callback that carries another state, and saves nothing', async () => {
    const proc = startCli(['--context', 'forged', 'login', '--url', cp.httpUrl, '--oidc', '--tenant', 'acme', '--no-browser'], { env });
    const redirectUri = new URL(await printedStartUrl(proc)).searchParams.get('redirectUri')!;
    const page = await new Browser(cp.httpUrl).navigate(`${redirectUri}?code=atc_planted&state=not-the-cli-state`);
    expect(page.status).toBe(400);
    const run = await proc.done;
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^error: STATE_MISMATCH: /m);
    expect((await readConfigFile()).contexts.forged).toBeUndefined();
  });

  it("a person the tenant's rules refuse: the CLI says why, with the control plane's code", async () => {
    const { run, page } = await signIn('eve', 'eve');
    expect(page.status).toBe(403);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^error: OIDC_EMAIL_NOT_ALLOWED: /m);
    expect((await readConfigFile()).contexts.eve).toBeUndefined();
  });

  it('a tenant without browser sign-in (or no such tenant) is told at once, before any browser is involved', async () => {
    await createTenant(cp, 'plain');
    for (const name of ['plain', 'no-such-tenant']) {
      const run = await runCli(['--context', 'plain', 'login', '--url', cp.httpUrl, '--oidc', '--tenant', name, '--no-browser'], { env, timeoutMs: 15_000 });
      expect(run.code, run.stderr).toBe(4);
      expect(run.stderr).toMatch(/^error: OIDC_NOT_CONFIGURED: /m);
      expect(run.stderr).not.toMatch(/Open this URL/);
    }
    expect((await readConfigFile()).contexts.plain).toBeUndefined();
  });

  it('login --oidc without --tenant is a usage error', async () => {
    const run = await cli(['login', '--url', cp.httpUrl, '--oidc']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: USAGE: .*--tenant/m);
  });
});
