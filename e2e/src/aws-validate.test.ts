import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from './support/moto.js';
import type { Proc } from './support/process.js';

/**
 * The whole path for real: API → control plane → gRPC → delegate → moto_server with
 * authentication enforced (signatures, IAM policies, trust policies with sts:ExternalId).
 * The delegate holds the keys in its environment and a mounted file; the control plane only ever
 * sees references.
 */
describe('aws.validate end to end against moto_server with auth enforced', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let delegate: Proc;
  let secretFile: string;

  beforeAll(async () => {
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'aws-e2e');
    moto = await startMoto();
    // The role trusts the tenant's own external ID, as a customer would set it up.
    ids = await setupAwsIdentities(moto.endpoint, { externalId: tenant.externalId });
    await moto.enforceAuth();
    secretFile = join(cp.dataDir, '..', `attache-secret-${process.pid}`);
    await writeFile(secretFile, `${ids.validUser.secretAccessKey}\n`, { mode: 0o600 });
    const { token } = await createToken(tenant, 'aws');
    delegate = await startDelegate(tenant, {
      url: cp.grpcUrl,
      token,
      name: 'vpc-east',
      tags: ['aws'],
      env: {
        // Its installer lets it read the test's variables and the secret file, nothing more.
        ATTACHE_ALLOW_REFS: `env:GOOD_*,env:WRONG_*,env:NOPERM_*,env:SRC_*,env:NOT_SET_*,file:${secretFile}`,
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        // The delegate's own chain (auth type "delegate") is the valid user.
        AWS_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ids.validUser.secretAccessKey,
        GOOD_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        GOOD_SECRET: ids.validUser.secretAccessKey,
        WRONG_SECRET: `${ids.validUser.secretAccessKey.slice(0, -4)}XXXX`,
        NOPERM_ACCESS_KEY_ID: ids.userWithoutDescribeRegions.accessKeyId,
        NOPERM_SECRET: ids.userWithoutDescribeRegions.secretAccessKey,
        SRC_ACCESS_KEY_ID: ids.roleSourceUser.accessKeyId,
        SRC_SECRET: ids.roleSourceUser.secretAccessKey,
      },
    });
  }, 120_000);

  afterAll(async () => {
    await delegate?.stop();
    await moto?.stop();
    await cp?.stop();
  });

  const account = async (name: string, auth: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const res = await tenant.api.post('/v1/aws/accounts', { name, partition: 'aws', auth, delegateSelectors: ['aws'], ...extra });
    expect(res.status, res.text).toBe(201);
    return res.body.id as string;
  };
  const validate = async (id: string) => {
    const res = await tenant.api.post(`/v1/aws/accounts/${id}/validate?waitSeconds=30`);
    expect(res.status, res.text).toBe(200);
    return res.body as { account: any; task: any };
  };

  it('valid static keys (env and file references): the account is valid with its ID, ARN and regions', async () => {
    const id = await account('static-env', { type: 'static', accessKeyId: 'env:GOOD_ACCESS_KEY_ID', secretAccessKey: 'env:GOOD_SECRET' });
    const { account: acc, task } = await validate(id);
    expect(task.state).toBe('succeeded');
    expect(acc).toMatchObject({ status: 'valid', awsAccountId: ids.accountId, arn: ids.validUser.arn, lastError: null });
    expect(Date.parse(acc.lastCheckedAt)).toBeGreaterThan(0);
    expect(task.result.regions).toContain('us-east-1');
    expect(task.result.steps.map((s: any) => s.name)).toEqual(expect.arrayContaining(['sts:GetCallerIdentity', 'ec2:DescribeRegions']));
    // GET reads back the recorded outcome.
    expect((await tenant.api.get(`/v1/aws/accounts/${id}`)).body.status).toBe('valid');

    const fileId = await account('static-file', { type: 'static', accessKeyId: 'env:GOOD_ACCESS_KEY_ID', secretAccessKey: `file:${secretFile}` });
    expect((await validate(fileId)).account.status).toBe('valid');
  });

  it('a wrong secret is INVALID_CREDENTIALS, recorded on the account', async () => {
    const id = await account('wrong-secret', { type: 'static', accessKeyId: 'env:GOOD_ACCESS_KEY_ID', secretAccessKey: 'env:WRONG_SECRET' });
    const { account: acc, task } = await validate(id);
    expect(task.state).toBe('failed');
    expect(task.error.code).toBe('INVALID_CREDENTIALS');
    expect(task.error.message).toMatch(/AWS was not able to validate the provided access credentials/);
    expect(acc).toMatchObject({ status: 'invalid', awsAccountId: null, lastError: { code: 'INVALID_CREDENTIALS' } });
  });

  it('a user without ec2:DescribeRegions is MISSING_PERMISSION naming the action', async () => {
    const id = await account('no-describe', { type: 'static', accessKeyId: 'env:NOPERM_ACCESS_KEY_ID', secretAccessKey: 'env:NOPERM_SECRET' });
    const { task } = await validate(id);
    expect(task.error.code).toBe('MISSING_PERMISSION');
    expect(task.error.message).toContain('ec2:DescribeRegions');
  });

  it("AssumeRole with the tenant's external ID succeeds; a wrong external ID is ASSUME_ROLE_DENIED", async () => {
    const source = { type: 'static', accessKeyId: 'env:SRC_ACCESS_KEY_ID', secretAccessKey: 'env:SRC_SECRET' };
    const ok = await account('role', { type: 'assumeRole', roleArn: ids.role.roleArn, source });
    const good = await validate(ok);
    expect(good.task.state, JSON.stringify(good.task.error)).toBe('succeeded');
    expect(good.account.status).toBe('valid');
    expect(good.account.arn).toContain(`:assumed-role/${ids.role.roleName}/`);
    expect(good.task.result.steps.map((s: any) => s.name)).toContain('sts:AssumeRole');

    const bad = await account('role-wrong-ext', { type: 'assumeRole', roleArn: ids.role.roleArn, externalId: 'not-the-right-one', source });
    const denied = await validate(bad);
    expect(denied.task.error.code).toBe('ASSUME_ROLE_DENIED');
    expect(denied.task.error.message).toMatch(/trust policy|external ID/i);
    expect(denied.account.status).toBe('invalid');
  });

  it("the delegate's own credential chain validates without any reference", async () => {
    const id = await account('own-chain', { type: 'delegate' });
    const { account: acc } = await validate(id);
    expect(acc).toMatchObject({ status: 'valid', arn: ids.validUser.arn });
  });

  it('a missing env reference is SECRET_UNRESOLVED naming the reference', async () => {
    const id = await account('unresolved', { type: 'static', accessKeyId: 'env:GOOD_ACCESS_KEY_ID', secretAccessKey: 'env:NOT_SET_ANYWHERE' });
    const { task } = await validate(id);
    expect(task.error.code).toBe('SECRET_UNRESOLVED');
    expect(task.error.message).toContain('env:NOT_SET_ANYWHERE');
  });

  it('selectors no delegate carries: NO_ELIGIBLE_DELEGATE recorded on the account with reasons', async () => {
    const id = await account('elsewhere', { type: 'delegate' }, { delegateSelectors: ['gov-east'] });
    const { account: acc, task } = await validate(id);
    expect(task.error.code).toBe('NO_ELIGIBLE_DELEGATE');
    expect(task.error.details.delegates[0].reasons).toContain('missing tags: gov-east');
    expect(acc).toMatchObject({ status: 'invalid', lastError: { code: 'NO_ELIGIBLE_DELEGATE' } });
  });

  it('nothing the control plane holds contains a secret: database files, logs, API answers', async () => {
    const secrets = [ids.validUser.secretAccessKey, ids.userWithoutDescribeRegions.secretAccessKey, ids.roleSourceUser.secretAccessKey];
    const forms = secrets.flatMap((s) => [s, Buffer.from(s).toString('base64'), Buffer.from(s).toString('hex')]);
    const files = await readdir(cp.dataDir);
    expect(files.some((f) => f.startsWith('attache.db'))).toBe(true);
    const blobs = await Promise.all(files.map((f) => readFile(join(cp.dataDir, f))));
    const answers = [(await tenant.api.get('/v1/aws/accounts')).text, (await tenant.api.get('/v1/tasks?limit=500')).text];
    const haystacks = [...blobs.map((b) => b.toString('latin1')), cp.proc.lines.join('\n'), ...answers];
    for (const form of forms) for (const hay of haystacks) expect(hay.includes(form)).toBe(false);
  });
});
