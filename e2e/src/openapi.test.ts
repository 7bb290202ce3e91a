import { AttachUserPolicyCommand, CreateAccessKeyCommand, CreatePolicyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { createUser } from '@nats-io/nkeys';
import { createHash, randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createNatsOperatorSetup } from '../../control-plane/src/nats/account.js';
import { Api, type ApiResponse } from './support/api.js';
import { Browser } from './support/browser.js';
import { createTenant, createToken, REPO_ROOT, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { startMoto, type MotoServer } from './support/moto.js';
import { startNats, type NatsHandle } from './support/nats.js';
import { startOidcProvider, type OidcProvider } from './support/oidc.js';
import { freePort } from './support/ports.js';
import { OpenApiChecker, routesOfTree } from './support/openapi.js';
import { jsonLines, type Proc } from './support/process.js';

const run = promisify(execFile);
const REDOCLY = join(REPO_ROOT, 'node_modules/.bin/redocly');
const PASSWORD = 'describe every route';

/**
 * The OpenAPI document against the running control plane: a real linter finds no error in it,
 * every route Fastify registered is in it, and every route's real answers (a success and an error
 * each) validate against it with a JSON Schema 2020-12 validator. The routes run for real: a gRPC
 * delegate, moto_server with authentication enforced, NATS in operator mode.
 */
describe('OpenAPI document', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let moto: MotoServer;
  let nats: NatsHandle;
  let delegate: Proc;
  let stateDir: string;
  let delegateToken: string;
  let document: Record<string, any>;
  let idp: OidcProvider;
  let oidcCallback: string;

  beforeAll(async () => {
    moto = await startMoto();
    const iam = new IAMClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'AKIASETUPONLY0000000', secretAccessKey: 'setup-only' } });
    let keys: { accessKeyId: string; secretAccessKey: string };
    try {
      await iam.send(new CreateUserCommand({ UserName: 'oa-delegate' }));
      const policy = await iam.send(
        new CreatePolicyCommand({
          PolicyName: 'oa-delegate-policy',
          PolicyDocument: JSON.stringify({
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: ['sts:GetCallerIdentity', 'ec2:DescribeRegions', 'iam:ListPolicies'], Resource: '*' }],
          }),
        }),
      );
      await iam.send(new AttachUserPolicyCommand({ UserName: 'oa-delegate', PolicyArn: policy.Policy!.Arn! }));
      const key = await iam.send(new CreateAccessKeyCommand({ UserName: 'oa-delegate' }));
      keys = { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
    } finally {
      iam.destroy();
    }
    await moto.enforceAuth();

    const setup = await createNatsOperatorSetup();
    nats = await startNats({ config: setup.serverConfig });
    const httpPort = await freePort();
    oidcCallback = `http://127.0.0.1:${httpPort}/v1/session/oidc/callback`;
    idp = await startOidcProvider({
      clients: [{ client_id: 'attache', client_secret: 'openapi-client-secret', redirect_uris: [oidcCallback] }],
      accounts: { ann: { email: 'ann@example.com', email_verified: true, name: 'Ann', groups: ['admins'] } },
    });
    cp = await startControlPlane(
      {
        ATTACHE_LOG_LEVEL: 'debug',
        ATTACHE_NATS_URL: nats.url,
        ATTACHE_NATS_SIGNING_SEED: setup.signingSeed,
        ATTACHE_NATS_ACCOUNT: setup.accountPublicKey,
        ATTACHE_PUBLIC_URL: `http://127.0.0.1:${httpPort}`,
        ATTACHE_OIDC_INSECURE_ISSUERS: idp.issuer,
      },
      { httpPort },
    );
    tenant = await createTenant(cp, 'openapi-e2e');
    delegateToken = (await createToken(tenant, 'oa')).token;
    stateDir = await mkdtemp(join(tmpdir(), 'attache-oa-delegate-'));
    delegate = await startDelegate(tenant, {
      url: cp.grpcUrl,
      token: delegateToken,
      name: 'oa-east',
      tags: ['aws'],
      env: {
        ATTACHE_STATE_DIR: stateDir,
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: keys.accessKeyId,
        AWS_SECRET_ACCESS_KEY: keys.secretAccessKey,
      },
    });
    const res = await fetch(`${cp.httpUrl}/v1/openapi.json`);
    expect(res.status).toBe(200);
    document = (await res.json()) as Record<string, any>;
  }, 180_000);

  afterAll(async () => {
    await delegate?.stop();
    await cp?.stop();
    await nats?.stop();
    await moto?.stop();
    await idp?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('is OpenAPI 3.1, served without credentials, and @redocly/cli lint finds no error in it', async () => {
    expect(document['openapi']).toBe('3.1.0');
    expect(document['components'].securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
    // The error shape carries the code enum.
    expect(document['components'].schemas.Error.properties.error.properties.code.enum).toEqual(expect.arrayContaining(['VALIDATION_FAILED', 'NOT_FOUND', 'UPGRADE_REQUIRED']));
    const dir = await mkdtemp(join(tmpdir(), 'attache-openapi-'));
    try {
      const file = join(dir, 'openapi.json');
      await writeFile(file, JSON.stringify(document, null, 2));
      const { stdout } = await run(REDOCLY, ['lint', file, '--format=json'], { env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' } }).catch(
        (err: { stdout?: string; stderr?: string }) => {
          throw new Error(`redocly lint failed:\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
        },
      );
      const report = JSON.parse(stdout) as { totals: { errors: number }; problems: Array<{ severity: string; message: string; location: Array<{ pointer: string }> }> };
      expect(report.problems.filter((p) => p.severity === 'error')).toEqual([]);
      expect(report.totals.errors).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('describes every route Fastify registered', async () => {
    const line = jsonLines(cp.proc).find((l) => l['msg'] === 'HTTP routes');
    expect(line, 'the control plane logs its route table at debug level').toBeDefined();
    const registered = routesOfTree(String(line!['routes']));
    // The tree parsed: the routes known to exist are among them.
    expect(registered).toEqual(expect.arrayContaining(['GET /healthz', 'GET /v1/tasks/{id}', 'POST /v1/delegate-groups/{name}/keys/{keyId}/trust', 'POST /v1/delegate/nats-credentials']));
    const documented = new OpenApiChecker(document).operations();
    expect(registered.filter((r) => !documented.includes(r))).toEqual([]);
  });

  it("every route's real responses, a success and an error, validate against the document", async () => {
    const oa = new OpenApiChecker(document);
    const anon = new Api(cp.httpUrl, '');
    const api = tenant.api;
    /** Calls, checks the answer against the document (`template` names the operation), returns it. */
    const call = async (client: Pick<Api, 'request'> | Browser, method: string, template: string, path: string, body?: unknown): Promise<ApiResponse> => {
      const res = await client.request(method, path, body);
      oa.check(method, template, res);
      return res;
    };
    const expectStatus = async (status: number, p: Promise<ApiResponse>): Promise<ApiResponse> => {
      const res = await p;
      expect(res.status, res.text).toBe(status);
      return res;
    };

    // Probes, metrics and the document itself.
    await expectStatus(200, call(anon, 'GET', '/healthz', '/healthz'));
    await expectStatus(200, call(anon, 'GET', '/readyz', '/readyz'));
    const metrics = await fetch(`${cp.httpUrl}/metrics`);
    oa.check('GET', '/metrics', { status: metrics.status, text: await metrics.text(), body: null }, 'text/plain');
    await expectStatus(200, call(anon, 'GET', '/v1/openapi.json', '/v1/openapi.json'));

    // Tenants.
    const other = await expectStatus(201, call(cp.operator, 'POST', '/v1/tenants', '/v1/tenants', { name: 'openapi-other' }));
    await expectStatus(409, call(cp.operator, 'POST', '/v1/tenants', '/v1/tenants', { name: 'openapi-other' }));
    await expectStatus(403, call(api, 'POST', '/v1/tenants', '/v1/tenants', { name: 'sneaky' }));

    // Delegate tokens, pages of them, and delegates.
    const second = await expectStatus(201, call(api, 'POST', '/v1/delegate-tokens', '/v1/delegate-tokens', { name: 'second' }));
    await expectStatus(400, call(api, 'POST', '/v1/delegate-tokens', '/v1/delegate-tokens', { name: '' }));
    const allTokens = await expectStatus(200, call(api, 'GET', '/v1/delegate-tokens', '/v1/delegate-tokens'));
    expect(allTokens.body.items).toHaveLength(2);
    const firstPage = await expectStatus(200, call(api, 'GET', '/v1/delegate-tokens', '/v1/delegate-tokens?limit=1'));
    expect(firstPage.body.items).toHaveLength(1);
    expect(firstPage.body.nextCursor).toEqual(expect.any(String));
    const secondPage = await expectStatus(200, call(api, 'GET', '/v1/delegate-tokens', `/v1/delegate-tokens?limit=1&cursor=${firstPage.body.nextCursor}`));
    expect(secondPage.body.items.map((t: any) => t.id)).toEqual([second.body.id]);
    expect(secondPage.body.nextCursor).toBeNull();
    await expectStatus(400, call(api, 'GET', '/v1/delegate-tokens', '/v1/delegate-tokens?cursor=not-a-cursor'));
    await expectStatus(200, call(api, 'POST', '/v1/delegate-tokens/{id}/revoke', `/v1/delegate-tokens/${second.body.id}/revoke`));
    await expectStatus(404, call(api, 'POST', '/v1/delegate-tokens/{id}/revoke', '/v1/delegate-tokens/tok_missing/revoke'));
    const delegates = await expectStatus(200, call(api, 'GET', '/v1/delegates', '/v1/delegates'));
    const east = delegates.body.items.find((d: any) => d.name === 'oa-east');
    expect(east).toBeDefined();
    await expectStatus(401, call(anon, 'GET', '/v1/delegates', '/v1/delegates'));
    await expectStatus(200, call(api, 'GET', '/v1/gateways', '/v1/gateways?limit=10'));
    await expectStatus(400, call(api, 'GET', '/v1/gateways', '/v1/gateways?limit=0'));
    const eligible = await expectStatus(200, call(api, 'GET', '/v1/delegates/eligibility', '/v1/delegates/eligibility?tags=aws'));
    expect(eligible.body.delegates.map((d: any) => d.name)).toContain('oa-east');
    await expectStatus(400, call(api, 'GET', '/v1/delegates/eligibility', '/v1/delegates/eligibility?tags=Not%20A%20Tag'));

    // Tasks: one that runs, one that waits for a delegate nobody runs and is cancelled.
    const echo = await expectStatus(201, call(api, 'POST', '/v1/tasks', '/v1/tasks', { type: 'echo', payload: { message: 'hi' }, selectors: ['aws'] }));
    await expectStatus(400, call(api, 'POST', '/v1/tasks', '/v1/tasks', { type: 'echo', surprise: true }));
    const done = await expectStatus(200, call(api, 'GET', '/v1/tasks/{id}', `/v1/tasks/${echo.body.id}?waitSeconds=20`));
    expect(done.body.state).toBe('succeeded');
    // The task names the delegate that ran it.
    expect(done.body.delegate).toEqual({ id: east.id, name: 'oa-east' });
    expect(done.body.delegateId).toBe(east.id);
    await expectStatus(404, call(api, 'GET', '/v1/tasks/{id}', '/v1/tasks/tsk_missing'));
    const stuck = await expectStatus(201, call(api, 'POST', '/v1/tasks', '/v1/tasks', { type: 'echo', payload: { message: 'slow', delayMs: 60_000 }, selectors: ['aws'] }));
    await expectStatus(200, call(api, 'GET', '/v1/queue', '/v1/queue'));
    await expectStatus(401, call(anon, 'GET', '/v1/queue', '/v1/queue'));
    const cancelled = await expectStatus(200, call(api, 'POST', '/v1/tasks/{id}/cancel', `/v1/tasks/${stuck.body.id}/cancel`));
    expect(cancelled.body.state).toBe('cancelled');
    await expectStatus(409, call(api, 'POST', '/v1/tasks/{id}/cancel', `/v1/tasks/${stuck.body.id}/cancel`));
    await expectStatus(404, call(api, 'POST', '/v1/tasks/{id}/cancel', '/v1/tasks/tsk_missing/cancel'));
    const tasks = await expectStatus(200, call(api, 'GET', '/v1/tasks', '/v1/tasks?limit=1'));
    expect(tasks.body.items.map((t: any) => t.id)).toEqual([stuck.body.id]);
    const older = await expectStatus(200, call(api, 'GET', '/v1/tasks', `/v1/tasks?limit=1&cursor=${tasks.body.nextCursor}`));
    expect(older.body.items.map((t: any) => t.id)).toEqual([echo.body.id]);
    expect(older.body.items[0].delegate).toEqual({ id: east.id, name: 'oa-east' });
    await expectStatus(400, call(api, 'GET', '/v1/tasks', '/v1/tasks?limit=9999'));
    // A cursor of another list is refused, not misread.
    await expectStatus(400, call(api, 'GET', '/v1/tasks', `/v1/tasks?cursor=${firstPage.body.nextCursor}`));

    // AWS accounts, validation, policies, role setup.
    await expectStatus(200, call(api, 'GET', '/v1/aws/external-id', '/v1/aws/external-id'));
    await expectStatus(403, call(cp.operator, 'GET', '/v1/aws/external-id', '/v1/aws/external-id'));
    const account = { name: 'oa-prod', partition: 'aws', auth: { type: 'delegate' }, delegateSelectors: ['aws'], testRegion: 'us-east-1' };
    const created = await expectStatus(201, call(api, 'POST', '/v1/aws/accounts', '/v1/aws/accounts', account));
    const id = created.body.id as string;
    await expectStatus(409, call(api, 'POST', '/v1/aws/accounts', '/v1/aws/accounts', account));
    await expectStatus(400, call(api, 'POST', '/v1/aws/accounts', '/v1/aws/accounts', { ...account, name: 'literal', auth: { type: 'static', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'env:SK' } }));
    const spare = await expectStatus(201, call(api, 'POST', '/v1/aws/accounts', '/v1/aws/accounts', { ...account, name: 'oa-spare' }));
    const accounts = await expectStatus(200, call(api, 'GET', '/v1/aws/accounts', '/v1/aws/accounts?limit=1'));
    expect(accounts.body.items.map((a: any) => a.name)).toEqual(['oa-prod']);
    const nextAccounts = await expectStatus(200, call(api, 'GET', '/v1/aws/accounts', `/v1/aws/accounts?limit=1&cursor=${accounts.body.nextCursor}`));
    expect(nextAccounts.body.items.map((a: any) => a.name)).toEqual(['oa-spare']);
    await expectStatus(400, call(api, 'GET', '/v1/aws/accounts', `/v1/aws/accounts?cursor=${tasks.body.nextCursor}`));
    await expectStatus(200, call(api, 'GET', '/v1/aws/accounts/{id}', `/v1/aws/accounts/${id}`));
    await expectStatus(404, call(api, 'GET', '/v1/aws/accounts/{id}', '/v1/aws/accounts/acc_missing'));
    await expectStatus(200, call(api, 'PATCH', '/v1/aws/accounts/{id}', `/v1/aws/accounts/${id}`, { description: 'production' }));
    await expectStatus(400, call(api, 'PATCH', '/v1/aws/accounts/{id}', `/v1/aws/accounts/${id}`, { testRegion: 'us-gov-west-1' }));
    await expectStatus(204, call(api, 'DELETE', '/v1/aws/accounts/{id}', `/v1/aws/accounts/${spare.body.id}`));
    await expectStatus(404, call(api, 'DELETE', '/v1/aws/accounts/{id}', `/v1/aws/accounts/${spare.body.id}`));
    const validated = await expectStatus(200, call(api, 'POST', '/v1/aws/accounts/{id}/validate', `/v1/aws/accounts/${id}/validate?waitSeconds=30`));
    expect(validated.body.account.status).toBe('valid');
    expect(validated.body.task.delegate).toEqual({ id: east.id, name: 'oa-east' });
    await expectStatus(404, call(api, 'POST', '/v1/aws/accounts/{id}/validate', '/v1/aws/accounts/acc_missing/validate'));
    const listed = await expectStatus(200, call(api, 'GET', '/v1/aws/accounts/{id}/available-policies', `/v1/aws/accounts/${id}/available-policies?scope=Local&waitSeconds=30`));
    expect(listed.body.policies.map((p: any) => p.name)).toContain('oa-delegate-policy');
    await expectStatus(404, call(api, 'GET', '/v1/aws/accounts/{id}/available-policies', '/v1/aws/accounts/acc_missing/available-policies'));
    const chosen = listed.body.policies.find((p: any) => p.name === 'oa-delegate-policy').arn as string;
    await expectStatus(200, call(api, 'PUT', '/v1/aws/accounts/{id}/policies', `/v1/aws/accounts/${id}/policies`, { policyArns: [chosen] }));
    await expectStatus(400, call(api, 'PUT', '/v1/aws/accounts/{id}/policies', `/v1/aws/accounts/${id}/policies`, { policyArns: ['not-an-arn'] }));
    await expectStatus(200, call(api, 'GET', '/v1/aws/role-setup', '/v1/aws/role-setup?selectors=aws'));
    const template = await api.request('GET', '/v1/aws/role-setup?selectors=aws&format=cloudformation');
    expect(template.status, template.text).toBe(200);
    oa.check('GET', '/v1/aws/role-setup', template, 'application/yaml');
    await expectStatus(400, call(api, 'GET', '/v1/aws/role-setup', '/v1/aws/role-setup?partition=mars'));

    // Delegate groups' keys (the delegate generated one in its state directory).
    const keys = await expectStatus(200, call(api, 'GET', '/v1/delegate-groups/{name}/public-key', '/v1/delegate-groups/oa-east/public-key'));
    const keyId = keys.body.current.keyId as string;
    await expectStatus(404, call(api, 'GET', '/v1/delegate-groups/{name}/public-key', '/v1/delegate-groups/nobody/public-key'));
    await expectStatus(200, call(api, 'POST', '/v1/delegate-groups/{name}/keys/{keyId}/distrust', `/v1/delegate-groups/oa-east/keys/${keyId}/distrust`));
    await expectStatus(404, call(api, 'POST', '/v1/delegate-groups/{name}/keys/{keyId}/distrust', '/v1/delegate-groups/oa-east/keys/0000000000000000/distrust'));
    await expectStatus(200, call(api, 'POST', '/v1/delegate-groups/{name}/keys/{keyId}/trust', `/v1/delegate-groups/oa-east/keys/${keyId}/trust`));
    await expectStatus(404, call(api, 'POST', '/v1/delegate-groups/{name}/keys/{keyId}/trust', '/v1/delegate-groups/oa-east/keys/0000000000000000/trust'));
    await expectStatus(200, call(api, 'GET', '/v1/delegate-groups/{name}/key-usage', '/v1/delegate-groups/oa-east/key-usage'));
    await expectStatus(400, call(api, 'GET', '/v1/delegate-groups/{name}/key-usage', '/v1/delegate-groups/Not_A_Group/key-usage'));

    // Tenants as the operator manages them: pages, suspension, admin credentials.
    const errorCode = (res: ApiResponse) => res.body.error.code as string;
    const tenantPage = await expectStatus(200, call(cp.operator, 'GET', '/v1/tenants', '/v1/tenants?limit=1'));
    expect(tenantPage.body.nextCursor).toEqual(expect.any(String));
    const tenantIds = [tenantPage.body.items[0].id];
    for (let cursor = tenantPage.body.nextCursor; cursor; ) {
      const page = await expectStatus(200, call(cp.operator, 'GET', '/v1/tenants', `/v1/tenants?limit=1&cursor=${cursor}`));
      tenantIds.push(...page.body.items.map((t: any) => t.id));
      cursor = page.body.nextCursor;
    }
    expect(tenantIds.sort()).toEqual([tenant.id, other.body.id].sort());
    await expectStatus(400, call(cp.operator, 'GET', '/v1/tenants', `/v1/tenants?cursor=${tasks.body.nextCursor}`));
    await expectStatus(403, call(api, 'GET', '/v1/tenants', '/v1/tenants'));
    await expectStatus(200, call(cp.operator, 'GET', '/v1/tenants/{id}', `/v1/tenants/${other.body.id}`));
    await expectStatus(404, call(cp.operator, 'GET', '/v1/tenants/{id}', '/v1/tenants/ten_missing'));
    const otherApi = cp.operator.withKey(other.body.apiKey);
    const suspended = await expectStatus(200, call(cp.operator, 'POST', '/v1/tenants/{id}/suspend', `/v1/tenants/${other.body.id}/suspend`));
    expect(suspended.body.status).toBe('suspended');
    expect(errorCode(await expectStatus(403, call(otherApi, 'GET', '/v1/me', '/v1/me')))).toBe('TENANT_SUSPENDED');
    await expectStatus(404, call(cp.operator, 'POST', '/v1/tenants/{id}/suspend', '/v1/tenants/ten_missing/suspend'));
    await expectStatus(200, call(cp.operator, 'POST', '/v1/tenants/{id}/resume', `/v1/tenants/${other.body.id}/resume`));
    await expectStatus(404, call(cp.operator, 'POST', '/v1/tenants/{id}/resume', '/v1/tenants/ten_missing/resume'));
    const root = await expectStatus(
      201,
      call(cp.operator, 'POST', '/v1/tenants/{id}/admin-credentials', `/v1/tenants/${other.body.id}/admin-credentials`, { user: { email: 'root@example.com', name: 'Root', password: PASSWORD } }),
    );
    await expectStatus(404, call(cp.operator, 'POST', '/v1/tenants/{id}/admin-credentials', '/v1/tenants/ten_missing/admin-credentials', {}));
    // The only admin user cannot be demoted.
    const lastAdmin = await expectStatus(409, call(otherApi, 'PATCH', '/v1/users/{id}', `/v1/users/${root.body.user.id}`, { role: 'viewer' }));
    expect(errorCode(lastAdmin)).toBe('LAST_ADMIN');

    // Sign-in, who am I, CSRF, sign-out.
    const browser = new Browser(cp.httpUrl);
    expect(errorCode(await expectStatus(401, call(browser, 'POST', '/v1/session', '/v1/session', { email: 'root@example.com', password: 'not the password' })))).toBe('SIGN_IN_FAILED');
    await expectStatus(201, call(browser, 'POST', '/v1/session', '/v1/session', { email: 'root@example.com', password: PASSWORD }));
    expect((await expectStatus(200, call(browser, 'GET', '/v1/me', '/v1/me'))).body.kind).toBe('user');
    expect((await expectStatus(200, call(api, 'GET', '/v1/me', '/v1/me'))).body.kind).toBe('apiKey');
    expect((await expectStatus(200, call(cp.operator, 'GET', '/v1/me', '/v1/me'))).body.kind).toBe('operator');
    const withoutCsrf = await browser.delete('/v1/session', { csrf: false });
    oa.check('DELETE', '/v1/session', withoutCsrf);
    expect(withoutCsrf.status).toBe(403);
    expect(errorCode(withoutCsrf)).toBe('CSRF_TOKEN_INVALID');
    await expectStatus(204, call(browser, 'DELETE', '/v1/session', '/v1/session'));
    await expectStatus(401, call(browser, 'GET', '/v1/me', '/v1/me'));

    // Users, in pages by email.
    const ed = await expectStatus(201, call(api, 'POST', '/v1/users', '/v1/users', { email: 'ed@example.com', name: 'Ed', role: 'editor' }));
    await expectStatus(409, call(api, 'POST', '/v1/users', '/v1/users', { email: 'ed@example.com', name: 'Ed again', role: 'editor' }));
    const vi = await expectStatus(201, call(api, 'POST', '/v1/users', '/v1/users', { email: 'vi@example.com', name: 'Vi', role: 'viewer', password: PASSWORD }));
    const users = await expectStatus(200, call(api, 'GET', '/v1/users', '/v1/users?limit=1'));
    expect(users.body.items.map((u: any) => u.id)).toEqual([ed.body.id]);
    const moreUsers = await expectStatus(200, call(api, 'GET', '/v1/users', `/v1/users?limit=1&cursor=${users.body.nextCursor}`));
    expect(moreUsers.body.items.map((u: any) => u.id)).toEqual([vi.body.id]);
    expect(moreUsers.body.nextCursor).toBeNull();
    await expectStatus(400, call(api, 'GET', '/v1/users', `/v1/users?cursor=${tasks.body.nextCursor}`));
    await expectStatus(200, call(api, 'GET', '/v1/users/{id}', `/v1/users/${ed.body.id}`));
    await expectStatus(404, call(api, 'GET', '/v1/users/{id}', '/v1/users/usr_missing'));
    await expectStatus(200, call(api, 'PATCH', '/v1/users/{id}', `/v1/users/${ed.body.id}`, { role: 'viewer' }));
    await expectStatus(400, call(api, 'PATCH', '/v1/users/{id}', `/v1/users/${ed.body.id}`, { role: 'owner' }));
    await expectStatus(200, call(api, 'POST', '/v1/users/{id}/sessions/revoke', `/v1/users/${vi.body.id}/sessions/revoke`));
    await expectStatus(404, call(api, 'POST', '/v1/users/{id}/sessions/revoke', '/v1/users/usr_missing/sessions/revoke'));
    await expectStatus(204, call(api, 'DELETE', '/v1/users/{id}', `/v1/users/${ed.body.id}`));
    await expectStatus(404, call(api, 'DELETE', '/v1/users/{id}', `/v1/users/${ed.body.id}`));

    // API keys: pages, roles, rotation, revocation.
    const viewerKey = await expectStatus(201, call(api, 'POST', '/v1/api-keys', '/v1/api-keys', { name: 'oa-viewer', role: 'viewer', expiresInDays: 1 }));
    await expectStatus(400, call(api, 'POST', '/v1/api-keys', '/v1/api-keys', { name: 'oa-owner', role: 'owner' }));
    const keyPage = await expectStatus(200, call(api, 'GET', '/v1/api-keys', '/v1/api-keys?limit=1'));
    const nextKeys = await expectStatus(200, call(api, 'GET', '/v1/api-keys', `/v1/api-keys?limit=1&cursor=${keyPage.body.nextCursor}`));
    expect(nextKeys.body.items.map((k: any) => k.id)).toEqual([viewerKey.body.id]);
    expect(nextKeys.body.nextCursor).toBeNull();
    const viewer = api.withKey(viewerKey.body.apiKey);
    expect(errorCode(await expectStatus(403, call(viewer, 'GET', '/v1/api-keys', '/v1/api-keys')))).toBe('FORBIDDEN');
    expect(errorCode(await expectStatus(403, call(viewer, 'GET', '/v1/users', '/v1/users')))).toBe('FORBIDDEN');
    const rotated = await expectStatus(200, call(api, 'POST', '/v1/api-keys/{id}/rotate', `/v1/api-keys/${viewerKey.body.id}/rotate`, { graceSeconds: 0 }));
    await expectStatus(404, call(api, 'POST', '/v1/api-keys/{id}/rotate', '/v1/api-keys/key_missing/rotate', {}));
    await expectStatus(200, call(api, 'POST', '/v1/api-keys/{id}/revoke', `/v1/api-keys/${viewerKey.body.id}/revoke`));
    await expectStatus(404, call(api, 'POST', '/v1/api-keys/{id}/revoke', '/v1/api-keys/key_missing/revoke'));
    expect(errorCode(await expectStatus(401, call(api.withKey(rotated.body.apiKey), 'GET', '/v1/me', '/v1/me')))).toBe('API_KEY_REVOKED');

    // OIDC: the tenant's provider settings, and a sign-in through a real provider.
    const oidcSettings = { issuer: idp.issuer, clientId: 'attache', clientSecret: 'openapi-client-secret', allowedEmailDomains: ['example.com'], roleMapping: { admins: 'admin' } };
    expect(errorCode(await expectStatus(404, call(api, 'GET', '/v1/oidc', '/v1/oidc')))).toBe('OIDC_NOT_CONFIGURED');
    expect(errorCode(await expectStatus(404, call(api, 'DELETE', '/v1/oidc', '/v1/oidc')))).toBe('OIDC_NOT_CONFIGURED');
    await expectStatus(400, call(api, 'PUT', '/v1/oidc', '/v1/oidc', { ...oidcSettings, issuer: 'http://127.0.0.1:1' }));
    await expectStatus(200, call(api, 'PUT', '/v1/oidc', '/v1/oidc', oidcSettings));
    expect((await expectStatus(200, call(api, 'GET', '/v1/oidc', '/v1/oidc'))).body.redirectUri).toBe(oidcCallback);
    const signer = new Browser(cp.httpUrl);
    const navigate = async (template: string, url: string, form?: Record<string, string>) => {
      const res = await signer.navigate(url, form);
      let body: unknown = null;
      try {
        body = res.text ? JSON.parse(res.text) : null;
      } catch {
        body = res.text;
      }
      if (template) oa.check('GET', template, { status: res.status, text: res.text, body });
      return res;
    };
    const providers = await expectStatus(200, call(anon, 'GET', '/v1/session/providers', `/v1/session/providers?tenant=${tenant.name}`));
    expect(providers.body).toEqual({ password: true, oidc: true });
    await expectStatus(400, call(anon, 'GET', '/v1/session/providers', '/v1/session/providers?surprise=1'));
    expect((await navigate('/v1/session/oidc/start', `${cp.httpUrl}/v1/session/oidc/start?tenant=${tenant.name}&returnTo=${encodeURIComponent('//evil.example')}`)).status).toBe(400);
    const started = await navigate('/v1/session/oidc/start', `${cp.httpUrl}/v1/session/oidc/start?tenant=${tenant.name}&returnTo=%2Fconsole`);
    expect(started.status).toBe(302);
    const loginPage = await signer.follow(started.location!);
    const posted = await navigate('', `${loginPage.url}/login`, { login: 'ann' });
    const back = await signer.follow(posted.location!, (next) => next.startsWith(oidcCallback));
    expect((await navigate('/v1/session/oidc/callback', back.url)).status).toBe(302);
    expect((await signer.get('/v1/me')).body).toMatchObject({ kind: 'user', role: 'admin' });
    expect((await navigate('/v1/session/oidc/callback', back.url)).status).toBe(400);
    // The CLI's sign-in (RFC 8252): a loopback redirect, the code it receives, and its exchange.
    const verifier = randomBytes(32).toString('base64url');
    const loopback = 'http://127.0.0.1:9/callback';
    const cliStart = new URLSearchParams({ tenant: tenant.name, redirectUri: loopback, codeChallenge: createHash('sha256').update(verifier).digest('base64url'), codeChallengeMethod: 'S256', state: 'openapi-cli-state-0123' });
    const cliSigner = new Browser(cp.httpUrl);
    const cliStarted = await cliSigner.navigate(`${cp.httpUrl}/v1/session/oidc/start?${cliStart}`);
    oa.check('GET', '/v1/session/oidc/start', { status: cliStarted.status, text: cliStarted.text, body: null });
    expect(cliStarted.status).toBe(302);
    const cliLogin = await cliSigner.follow(cliStarted.location!);
    const cliPosted = await cliSigner.navigate(`${cliLogin.url}/login`, { login: 'ann' });
    const cliBack = await cliSigner.follow(cliPosted.location!, (next) => next.startsWith(loopback));
    const code = new URL(cliBack.url).searchParams.get('code')!;
    const exchanged = await expectStatus(201, call(anon, 'POST', '/v1/session/oidc/exchange', '/v1/session/oidc/exchange', { code, codeVerifier: verifier, redirectUri: loopback }));
    expect((await tenant.api.withKey(exchanged.body.token).get('/v1/me')).body).toMatchObject({ kind: 'user', role: 'admin' });
    expect(errorCode(await expectStatus(400, call(anon, 'POST', '/v1/session/oidc/exchange', '/v1/session/oidc/exchange', { code, codeVerifier: verifier, redirectUri: loopback })))).toBe('OIDC_CODE_INVALID');
    await expectStatus(204, call(api, 'DELETE', '/v1/oidc', '/v1/oidc'));

    // The audit trail of everything above: pages, filters, the JSON-lines export.
    const trail = await expectStatus(200, call(api, 'GET', '/v1/audit', '/v1/audit?limit=2'));
    expect(trail.body.items).toHaveLength(2);
    const trailNext = await expectStatus(200, call(api, 'GET', '/v1/audit', `/v1/audit?limit=2&cursor=${trail.body.nextCursor}`));
    expect(trailNext.body.items[0].id < trail.body.items[1].id).toBe(true);
    const validations = await expectStatus(200, call(api, 'GET', '/v1/audit', '/v1/audit?action=account.validate'));
    expect(validations.body.items[0]).toMatchObject({ target: { id }, outcome: 'success', details: { delegate: { id: east.id, name: 'oa-east' } } });
    await expectStatus(400, call(api, 'GET', '/v1/audit', `/v1/audit?cursor=${tasks.body.nextCursor}`));
    await expectStatus(400, call(api, 'GET', '/v1/audit', '/v1/audit?action=account.nothing'));
    const exported = await api.request('GET', '/v1/audit/export?action=account.validate');
    expect(exported.status, exported.text).toBe(200);
    oa.check('GET', '/v1/audit/export', exported, 'application/x-ndjson');
    expect(exported.text.trimEnd().split('\n').map((line) => JSON.parse(line).id)).toEqual(validations.body.items.map((e: any) => e.id));
    await expectStatus(400, call(api, 'GET', '/v1/audit/export', '/v1/audit/export?since=yesterday'));

    // What delegates call: NATS credentials, and the WebSocket carrier's path.
    const delegateApi = new Api(cp.httpUrl, delegateToken);
    const nkey = createUser().getPublicKey();
    await expectStatus(201, call(delegateApi, 'POST', '/v1/delegate/nats-credentials', '/v1/delegate/nats-credentials', { publicKey: nkey }));
    await expectStatus(401, call(anon, 'POST', '/v1/delegate/nats-credentials', '/v1/delegate/nats-credentials', { publicKey: nkey }));
    const plain = await expectStatus(426, call(anon, 'GET', '/v1/delegate/connect', '/v1/delegate/connect'));
    expect(plain.body.error.code).toBe('UPGRADE_REQUIRED');
    const upgraded = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${cp.httpUrl.replace('http', 'ws')}/v1/delegate/connect`, { headers: { authorization: `Bearer ${delegateToken}` } });
      ws.once('upgrade', (res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.once('error', reject);
    });
    oa.check('GET', '/v1/delegate/connect', { status: upgraded, text: '', body: null });

    await expectStatus(200, call(api, 'POST', '/v1/tasks', '/v1/tasks?waitSeconds=20', { type: 'echo', payload: { message: 'waited' }, selectors: ['aws'] }));
    await expectStatus(200, call(api, 'POST', '/v1/tasks/batch', '/v1/tasks/batch', { tasks: [{ type: 'echo', payload: { message: 'b' }, selectors: ['aws'] }, { type: 'nope' }] }));
    await expectStatus(400, call(api, 'POST', '/v1/tasks/batch', '/v1/tasks/batch', { tasks: [] }));
    // The event stream never ends by itself: read its first frame, then let go.
    const stream = await fetch(`${cp.httpUrl}/v1/events`, { headers: { authorization: `Bearer ${api.key}` } });
    const reader = stream.body!.getReader();
    const firstFrame = new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(firstFrame).toBe(': connected\n\n');
    oa.check('GET', '/v1/events', { status: stream.status, text: firstFrame, body: null }, 'text/event-stream');
    await expectStatus(400, call(api, 'GET', '/v1/events', '/v1/events?types=nope'));

    // Every operation answered with a success and, where a client can cause one, an error.
    const missing = oa.operations().flatMap((op) => {
      const statuses = [...(oa.seen.get(op) ?? [])];
      const problems: string[] = [];
      if (!statuses.some((s) => s < 400)) problems.push(`${op}: no success seen`);
      const unauthenticatedMeta = ['GET /healthz', 'GET /readyz', 'GET /metrics', 'GET /v1/openapi.json'].includes(op);
      if (!unauthenticatedMeta && !statuses.some((s) => s >= 400)) problems.push(`${op}: no error seen`);
      return problems;
    });
    expect(missing).toEqual([]);
  });
});
