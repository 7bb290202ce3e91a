import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/canary.js';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from './support/moto.js';
import { jsonLines, type Proc } from './support/process.js';

/**
 * The delegate's own policy decides what it reads and where it connects, whatever an account (or
 * a control plane) asks: real control plane, real delegate process, moto_server with auth enforced.
 * A listener on another loopback address stands for an attacker's endpoint: it must never see a
 * connection.
 */
describe('delegate policy end to end', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let delegate: Proc;
  let dir: string;
  let token: string;
  let recorder: Server;
  let recorderUrl: string;
  let connections = 0;
  let policyEnv: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-delegate-policy-'));
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'delegate-policy');
    moto = await startMoto();
    ids = await setupAwsIdentities(moto.endpoint, { externalId: tenant.externalId });
    await moto.enforceAuth();

    recorder = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.2', resolve));
    recorderUrl = `http://127.0.0.2:${(recorder.address() as { port: number }).port}`;

    await mkdir(join(dir, 'secrets'));
    await writeFile(join(dir, 'secrets', 'secret-access-key'), `${ids.validUser.secretAccessKey}\n`, { mode: 0o600 });
    await writeFile(join(dir, 'outside'), `${ids.validUser.secretAccessKey}\n`, { mode: 0o600 });

    // As an installer would write it: the test's variables, one secrets directory (which also holds
    // the delegate's state, to show that its key stays out of reach), moto.
    policyEnv = { ATTACHE_ALLOW_REFS: `env:POLICY_E2E_*,file:${dir}/secrets/*`, ATTACHE_ALLOW_ENDPOINTS: moto.endpoint, ATTACHE_STATE_DIR: join(dir, 'secrets', 'state') };
    ({ token } = await createToken(tenant, 'policy'));
    delegate = await startDelegate(tenant, {
      url: cp.grpcUrl,
      token,
      name: 'guarded',
      tags: ['aws'],
      env: {
        ...policyEnv,
        AWS_EC2_METADATA_DISABLED: 'true',
        POLICY_E2E_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        POLICY_E2E_SECRET: ids.validUser.secretAccessKey,
        DB_PASSWORD_E2E: 'db-password-not-for-the-control-plane',
      },
    });
  }, 120_000);

  afterAll(async () => {
    await delegate?.stop();
    recorder?.close();
    await moto?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const validate = async (name: string, auth: Record<string, unknown>, endpoints: Record<string, string> = { sts: moto.endpoint, ec2: moto.endpoint }) => {
    const created = await tenant.api.post('/v1/aws/accounts', { name, partition: 'aws', auth, endpoints, delegateSelectors: ['aws'] });
    expect(created.status, created.text).toBe(201);
    const res = await tenant.api.post(`/v1/aws/accounts/${created.body.id}/validate?waitSeconds=30`);
    expect(res.status, res.text).toBe(200);
    return res.body as { account: any; task: any };
  };

  it('validates an honest account whose references and endpoints the policy allows', async () => {
    const env = await validate('honest-env', { type: 'static', accessKeyId: 'env:POLICY_E2E_ACCESS_KEY_ID', secretAccessKey: 'env:POLICY_E2E_SECRET' });
    expect(env.task.state, JSON.stringify(env.task.error)).toBe('succeeded');
    expect(env.account).toMatchObject({ status: 'valid', arn: ids.validUser.arn });
    const file = await validate('honest-file', { type: 'static', accessKeyId: 'env:POLICY_E2E_ACCESS_KEY_ID', secretAccessKey: `file:${dir}/secrets/secret-access-key` });
    expect(file.account).toMatchObject({ status: 'valid', arn: ids.validUser.arn });
  });

  it('refuses references outside the policy, reserved ones and a secret routed into a header as SECRET_NOT_ALLOWED', async () => {
    const cases: Array<[string, Record<string, unknown>, string, string]> = [
      ['other-env', { type: 'static', accessKeyId: 'env:POLICY_E2E_ACCESS_KEY_ID', secretAccessKey: 'env:DB_PASSWORD_E2E' }, 'env:DB_PASSWORD_E2E', 'not-in-policy'],
      ['other-file', { type: 'static', accessKeyId: 'env:POLICY_E2E_ACCESS_KEY_ID', secretAccessKey: `file:${dir}/outside` }, `file:${dir}/outside`, 'not-in-policy'],
      ['climbing', { type: 'static', accessKeyId: 'env:POLICY_E2E_ACCESS_KEY_ID', secretAccessKey: `file:${dir}/secrets/../outside` }, `file:${dir}/secrets/../outside`, 'not-in-policy'],
      ['own-token', { type: 'static', accessKeyId: 'env:POLICY_E2E_ACCESS_KEY_ID', secretAccessKey: 'env:ATTACHE_TOKEN' }, 'env:ATTACHE_TOKEN', 'reserved'],
      ['own-key', { type: 'static', accessKeyId: 'env:POLICY_E2E_ACCESS_KEY_ID', secretAccessKey: `file:${dir}/secrets/state/group-key.pem` }, `file:${dir}/secrets/state/group-key.pem`, 'reserved'],
      ['secret-as-key-id', { type: 'static', accessKeyId: 'env:POLICY_E2E_SECRET', secretAccessKey: 'env:POLICY_E2E_SECRET' }, 'env:POLICY_E2E_SECRET', 'field-not-allowed'],
    ];
    for (const [name, auth, reference, reason] of cases) {
      const { task, account } = await validate(name, auth);
      expect(task.error, name).toMatchObject({ code: 'SECRET_NOT_ALLOWED', details: { reference, setting: 'ATTACHE_ALLOW_REFS', reason } });
      expect(task.error.message).toContain(reference);
      expect(task.error.message).toContain('ATTACHE_ALLOW_REFS');
      expect(account).toMatchObject({ status: 'invalid', lastError: { code: 'SECRET_NOT_ALLOWED' } });
      const answer = JSON.stringify({ task, account });
      for (const secret of [token, ids.validUser.secretAccessKey, 'db-password-not-for-the-control-plane']) expect(answer, name).not.toContain(secret);
    }
  });

  it('refuses an endpoint outside ATTACHE_ALLOW_ENDPOINTS as ENDPOINT_NOT_ALLOWED, and connects nowhere', async () => {
    const before = connections;
    const auth = { type: 'static', accessKeyId: 'env:POLICY_E2E_ACCESS_KEY_ID', secretAccessKey: 'env:POLICY_E2E_SECRET' };
    for (const [name, endpoints, field] of [
      ['rogue-sts', { sts: recorderUrl, ec2: moto.endpoint }, 'endpoints.sts'],
      ['rogue-ec2', { sts: moto.endpoint, ec2: recorderUrl }, 'endpoints.ec2'],
      ['aws-lookalike', { sts: 'https://abc123.execute-api.us-east-1.amazonaws.com', ec2: moto.endpoint }, 'endpoints.sts'],
    ] as const) {
      const { task } = await validate(name, auth, endpoints);
      const endpoint = field === 'endpoints.sts' ? endpoints.sts : endpoints.ec2;
      expect(task.error, name).toMatchObject({ code: 'ENDPOINT_NOT_ALLOWED', details: { endpoint, setting: 'ATTACHE_ALLOW_ENDPOINTS', field } });
      expect(task.error.message).toContain(endpoint);
      expect(task.error.message).toContain('ATTACHE_ALLOW_ENDPOINTS');
      expect(JSON.stringify(task)).not.toContain(ids.validUser.secretAccessKey);
    }
    // IRSA and AssumeRole calls go through the same override.
    const role = await validate('rogue-role', { type: 'assumeRole', roleArn: ids.role.roleArn, source: auth }, { sts: recorderUrl });
    expect(role.task.error).toMatchObject({ code: 'ENDPOINT_NOT_ALLOWED', details: { field: 'endpoints.sts' } });
    expect(connections).toBe(before);
  });

  it('GET /v1/delegates shows the policy, with the digest `attache-delegate policy` prints', async () => {
    const printed = JSON.parse((await runCli(['policy'], '', policyEnv)).stdout) as { allowRefs: string[]; allowEndpoints: string[]; reserved: string[]; digest: string };
    expect(printed.allowRefs).toEqual([`env:POLICY_E2E_*`, `file:${dir}/secrets/*`]);
    expect(printed.allowEndpoints).toEqual([moto.endpoint]);
    expect(printed.reserved).toEqual(expect.arrayContaining([expect.stringContaining('env:ATTACHE_*'), expect.stringContaining(`file:${join(dir, 'secrets', 'state')}/**`)]));
    const canonical = JSON.stringify({ allowEndpoints: printed.allowEndpoints, allowRefs: printed.allowRefs });
    expect(printed.digest).toBe(`sha256:${createHash('sha256').update(canonical).digest('hex')}`);

    const res = await tenant.api.get('/v1/delegates');
    expect(res.status, res.text).toBe(200);
    const guarded = (res.body.items as any[]).find((d) => d.name === 'guarded');
    expect(guarded.policy).toEqual({ digest: printed.digest, allowRefs: printed.allowRefs, allowEndpoints: printed.allowEndpoints });

    // And it said so in its own log at start.
    const logged = jsonLines(delegate).find((l) => l['msg'] === 'delegate policy') as { policy?: { digest?: string } } | undefined;
    expect(logged?.policy?.digest).toBe(printed.digest);
  });
});
