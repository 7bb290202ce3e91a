import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from './support/api.js';
import { Browser } from './support/browser.js';
import { startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from './support/moto.js';
import type { Proc } from './support/process.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const PASSWORD = 'audit trail password 1';
const VIEWER_PASSWORD = 'viewer trail password 2';
const SCRIPT_AGENT = 'audit-script/1.0';
const READ_ONLY = 'arn:aws:iam::aws:policy/ReadOnlyAccess';

/**
 * The audit trail of a scripted session against a real control plane, a real delegate and
 * moto_server with authentication enforced: a failed then a good sign-in, a delegate token, an
 * account created by an API key, validations run by the delegate, a policy choice and a token
 * revocation, read back entry by entry with actors, targets, outcomes and the delegate; no secret
 * (password, API key, token, AWS key, reference) anywhere in the trail or its export.
 */
describe.each([
  { store: 'SQLite', database: false },
  { store: 'PostgreSQL', database: true },
])('audit trail on $store', ({ database }) => {
  let pg: PostgresServer | undefined;
  let cp: ControlPlaneHandle;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let delegate: Proc | undefined;
  let tenant: TenantHandle;
  let apiKey: string;
  let admin: Browser;
  let adminUserId: string;
  let started: string;
  const secrets: string[] = [];

  /** The tenant's first API key, with a user agent of its own so the trail can be checked for it. */
  const script = (method: string, path: string, body?: unknown) => tenant.api.request(method, path, body, { 'user-agent': SCRIPT_AGENT });

  beforeAll(async () => {
    if (database) pg = await startPostgres();
    cp = await startControlPlane(pg ? { ATTACHE_DATABASE_URL: await pg.createDatabase('attache_audit') } : {});
    started = new Date().toISOString();
    const created = await cp.operator.post('/v1/tenants', { name: 'audited', admin: { email: 'ann@example.com', name: 'Ann', password: PASSWORD } });
    expect(created.status, created.text).toBe(201);
    apiKey = created.body.apiKey;
    adminUserId = created.body.admin.id;
    const api: Api = cp.operator.withKey(apiKey);
    tenant = { id: created.body.id, name: 'audited', api, externalId: (await api.get('/v1/aws/external-id')).body.externalId };
    moto = await startMoto();
    ids = await setupAwsIdentities(moto.endpoint, { externalId: tenant.externalId });
    await moto.enforceAuth();
    secrets.push(PASSWORD, VIEWER_PASSWORD, apiKey, ids.validUser.accessKeyId, ids.validUser.secretAccessKey);
    admin = new Browser(cp.httpUrl);
  }, 120_000);

  afterAll(async () => {
    await delegate?.stop();
    await moto?.stop();
    await cp?.stop();
    await pg?.stop();
  });

  it('records a scripted session entry by entry, with no secret anywhere', async () => {
    // 1. A wrong password, then the right one.
    const stranger = new Browser(cp.httpUrl);
    expect((await stranger.signIn('ann@example.com', 'not the password at all')).status).toBe(401);
    expect((await admin.signIn('ann@example.com', PASSWORD)).status).toBe(201);

    // 2. The admin (a cookie session) creates a delegate token; the delegate connects with it.
    const token = await admin.post('/v1/delegate-tokens', { name: 'east-token' });
    expect(token.status, token.text).toBe(201);
    secrets.push(token.body.token);
    delegate = await startDelegate(tenant, {
      url: cp.grpcUrl,
      token: token.body.token,
      name: 'audit-east',
      tags: ['aws'],
      // Under the delegate's default reference policy (env:AWS_*).
      env: {
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_VALID_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        AWS_VALID_SECRET_ACCESS_KEY: ids.validUser.secretAccessKey,
        AWS_WRONG_SECRET_ACCESS_KEY: `${ids.validUser.secretAccessKey.slice(0, -4)}XXXX`,
      },
    });

    // 3. The API key creates two accounts (by references); the admin validates both.
    const auth = (secret: string) => ({ type: 'static', accessKeyId: 'env:AWS_VALID_ACCESS_KEY_ID', secretAccessKey: `env:${secret}` });
    const good = await script('POST', '/v1/aws/accounts', { name: 'prod', partition: 'aws', auth: auth('AWS_VALID_SECRET_ACCESS_KEY'), delegateSelectors: ['aws'] });
    expect(good.status, good.text).toBe(201);
    const bad = await script('POST', '/v1/aws/accounts', { name: 'broken', partition: 'aws', auth: auth('AWS_WRONG_SECRET_ACCESS_KEY'), delegateSelectors: ['aws'] });
    expect(bad.status, bad.text).toBe(201);
    const validated = await admin.post(`/v1/aws/accounts/${good.body.id}/validate?waitSeconds=30`);
    expect(validated.status, validated.text).toBe(200);
    expect(validated.body.task.state).toBe('succeeded');
    const refused = await admin.post(`/v1/aws/accounts/${bad.body.id}/validate?waitSeconds=30`);
    expect(refused.body.task.error.code).toBe('INVALID_CREDENTIALS');

    // 4. The API key chooses a policy and revokes the token.
    const chosen = await script('PUT', `/v1/aws/accounts/${good.body.id}/policies`, { policyArns: [READ_ONLY] });
    expect(chosen.status, chosen.text).toBe(200);
    expect((await script('POST', `/v1/delegate-tokens/${token.body.id}/revoke`)).status).toBe(200);

    // Read back, oldest first, through the pages.
    const items: any[] = [];
    for (let cursor: string | null = null, pages = 0; ; pages++) {
      const page: any = await admin.get(`/v1/audit?since=${encodeURIComponent(started)}&limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status, page.text).toBe(200);
      items.push(...page.body.items);
      cursor = page.body.nextCursor;
      if (!cursor) break;
      expect(pages).toBeLessThan(10);
    }
    const trail = items.reverse();
    const ann = { type: 'user', id: adminUserId, email: 'ann@example.com' };
    const key = { type: 'apiKey', id: expect.stringMatching(/^key_/), name: expect.any(String) };
    // Each browser has a loopback address of its own; the script's key calls come from 127.0.0.1.
    const local = { clientAddress: '127.0.0.1' };
    const fromAdmin = { clientAddress: admin.localAddress };
    expect(trail.map((e) => e.action)).toEqual([
      'tenant.create',
      'session.sign_in_failed',
      'session.sign_in',
      'token.create',
      'account.create',
      'account.create',
      'account.validate',
      'account.validate',
      'account.choose_policies',
      'token.revoke',
    ]);
    const [tenantCreated, failed, signedIn, tokenCreated, accountCreated, , validOne, invalidOne, policies, revoked] = trail;
    expect(tenantCreated).toMatchObject({ actor: { type: 'operator' }, role: 'operator', target: { type: 'tenant', id: tenant.id, name: 'audited' }, outcome: 'success', ...local });
    expect(tenantCreated.diff['admin.password']).toEqual({ changed: true, kind: 'secret' });
    expect(failed).toMatchObject({ actor: { type: 'anonymous' }, role: null, target: { type: 'user', name: 'ann@example.com' }, outcome: 'SIGN_IN_FAILED', diff: {}, clientAddress: stranger.localAddress });
    expect(signedIn).toMatchObject({ actor: ann, role: 'admin', target: { type: 'user', id: adminUserId, name: 'ann@example.com' }, outcome: 'success', ...fromAdmin });
    expect(tokenCreated).toMatchObject({ actor: ann, role: 'admin', target: { type: 'delegate_token', id: token.body.id, name: 'east-token' }, outcome: 'success' });
    expect(accountCreated).toMatchObject({ actor: key, role: 'admin', userAgent: SCRIPT_AGENT, target: { type: 'account', id: good.body.id, name: 'prod' }, outcome: 'success', ...local });
    expect(accountCreated.diff).toMatchObject({
      name: { changed: true, to: 'prod' },
      'auth.type': { changed: true, to: 'static' },
      'auth.accessKeyId': { changed: true, kind: 'reference' },
      'auth.secretAccessKey': { changed: true, kind: 'reference' },
    });
    const delegateRecord = (await tenant.api.get('/v1/delegates')).body.items.find((d: any) => d.name === 'audit-east');
    expect(validOne).toMatchObject({
      actor: ann,
      role: 'admin',
      target: { type: 'account', id: good.body.id, name: 'prod' },
      outcome: 'success',
      details: { taskId: validated.body.task.id, delegate: { id: delegateRecord.id, name: 'audit-east' } },
      ...fromAdmin,
    });
    expect(invalidOne).toMatchObject({ actor: ann, target: { id: bad.body.id, name: 'broken' }, outcome: 'INVALID_CREDENTIALS', details: { delegate: { name: 'audit-east' } } });
    expect(policies).toMatchObject({ actor: key, target: { type: 'account', id: good.body.id, name: 'prod' }, outcome: 'success', diff: { policyArns: { changed: true, to: [READ_ONLY] } } });
    expect(revoked).toMatchObject({ actor: key, userAgent: SCRIPT_AGENT, target: { type: 'delegate_token', id: token.body.id, name: 'east-token' }, outcome: 'success' });
    for (const e of trail) {
      expect(e.tenantId).toBe(tenant.id);
      expect(Date.parse(e.at)).toBeGreaterThanOrEqual(Date.parse(started));
    }

    // Filters answer from the same trail.
    const byAction = await admin.get(`/v1/audit?action=account.validate&since=${encodeURIComponent(started)}`);
    expect(byAction.body.items.map((e: any) => e.target.name)).toEqual(['broken', 'prod']);
    const byActor = await admin.get(`/v1/audit?actor=${encodeURIComponent('ann@example.com')}&target=prod`);
    expect(byActor.body.items.map((e: any) => e.action)).toEqual(['account.validate']);

    // The SIEM export: one JSON entry per line, the same entries.
    const exported = await fetch(`${cp.httpUrl}/v1/audit/export?since=${encodeURIComponent(started)}`, { headers: { authorization: `Bearer ${apiKey}` } });
    expect(exported.status).toBe(200);
    expect(exported.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const text = await exported.text();
    expect(text.endsWith('\n')).toBe(true);
    const lines = text.trimEnd().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((e) => e.id)).toEqual(trail.map((e) => e.id).reverse());

    // No secret value, and no reference's variable name, anywhere.
    const everything = JSON.stringify(trail) + text;
    for (const secret of [...secrets, 'AWS_VALID_SECRET_ACCESS_KEY', 'AWS_VALID_ACCESS_KEY_ID', 'not the password at all']) {
      expect(everything).not.toContain(secret);
    }
  });

  it('a viewer is refused the trail and its export with FORBIDDEN naming the admin role', async () => {
    expect((await script('POST', '/v1/users', { email: 'vera@example.com', name: 'Vera', role: 'viewer', password: VIEWER_PASSWORD })).status).toBe(201);
    const viewer = new Browser(cp.httpUrl);
    expect((await viewer.signIn('vera@example.com', VIEWER_PASSWORD)).status).toBe(201);
    for (const path of ['/v1/audit', '/v1/audit/export']) {
      const res = await viewer.get(path);
      expect(res.status).toBe(403);
      expect(res.body.error).toMatchObject({ code: 'FORBIDDEN', details: { requiredRole: 'admin', role: 'viewer' } });
    }
    // A change the viewer may not make is refused and recorded against her (refused before its body is read: no name, no diff).
    const refused = await viewer.post('/v1/delegate-tokens', { name: 'not-mine' });
    expect(refused.status).toBe(403);
    // The viewer's sign-in and her refused attempt are in the trail, as the admin reads it.
    const mine = await admin.get('/v1/audit?actor=vera@example.com');
    expect(mine.body.items).toMatchObject([
      { action: 'token.create', role: 'viewer', outcome: 'FORBIDDEN', target: { type: 'delegate_token', id: null, name: null }, diff: {}, clientAddress: viewer.localAddress },
      { action: 'session.sign_in', role: 'viewer', outcome: 'success', clientAddress: viewer.localAddress },
    ]);
  });
});
