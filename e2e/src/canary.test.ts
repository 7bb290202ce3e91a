import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api, ApiResponse } from './support/api.js';
import { encodings, findLeaks, runCli, startBlackHole, startRelay, type Relay } from './support/canary.js';
import { createTenant, createToken, eventually, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from './support/moto.js';
import type { Proc } from './support/process.js';

/**
 * The canary proof of "credentials never leave the customer side". Unique secrets are planted on
 * the delegate side in every supported way (environment reference, file reference, sealed value),
 * validations run through every success and error path reachable here, and then everything the
 * control-plane side ever held is scanned: its SQLite files (db, -wal, -shm), every log line, every
 * API answer this test received, and every byte the delegate sent to the control plane (recorded
 * by a TCP relay between them). A canary in any of them, raw, base64 or hex, fails the suite.
 */
describe('canary: no secret reaches the control plane, whatever happens', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let api: Api;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let delegate: Proc;
  let relay: Relay;
  let blackHole: Server;
  let dir: string;
  let keygen: { keyId: string; keyFile: string };
  /** Every API answer, kept for the scan. */
  const answers: string[] = [];
  /**
   * What must never appear. A new secret source adds one line here (e.g. the SCAP user key:
   * `canaries.push({ name: 'scap user key', value: scapKeyPem })` once the account type exists).
   */
  const canaries: Array<{ name: string; value: string }> = [];

  const record = async (res: Promise<ApiResponse>): Promise<ApiResponse> => {
    const r = await res;
    answers.push(r.text);
    return r;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-canary-'));
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'canary');
    api = tenant.api;
    moto = await startMoto();
    ids = await setupAwsIdentities(moto.endpoint, { externalId: tenant.externalId });
    await moto.enforceAuth();

    const wrongSecret = `${ids.validUser.secretAccessKey.slice(0, -8)}${randomBytes(4).toString('hex').toUpperCase()}`;
    canaries.push(
      { name: 'valid secret key (env and file references)', value: ids.validUser.secretAccessKey },
      { name: 'secret key of a user without ec2:DescribeRegions', value: ids.userWithoutDescribeRegions.secretAccessKey },
      { name: 'role source user secret key', value: ids.roleSourceUser.secretAccessKey },
      { name: 'wrong secret key', value: wrongSecret },
    );
    const secretFile = join(dir, 'aws-secret');
    await writeFile(secretFile, `${ids.validUser.secretAccessKey}\n`, { mode: 0o600 });

    keygen = JSON.parse((await runCli(['keygen', '--out', join(dir, 'group-key.pem')])).stdout) as { keyId: string; keyFile: string };
    relay = await startRelay(Number(new URL(cp.grpcUrl).port));
    blackHole = await startBlackHole();

    const { token } = await createToken(tenant, 'canary');
    delegate = await startDelegate(tenant, {
      url: `grpc://127.0.0.1:${relay.port}`,
      token,
      name: 'vpc-east',
      tags: ['aws'],
      env: {
        ATTACHE_KEY_FILE: keygen.keyFile,
        // What its installer lets it read, and the silent endpoint the cancellation case points at.
        ATTACHE_ALLOW_REFS: `env:GOOD_*,env:WRONG_*,env:NOPERM_*,env:SRC_*,env:NOT_SET_*,file:${secretFile}`,
        ATTACHE_ALLOW_ENDPOINTS: `http://127.0.0.1:${(blackHole.address() as { port: number }).port}`,
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        GOOD_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        GOOD_SECRET: ids.validUser.secretAccessKey,
        WRONG_SECRET: wrongSecret,
        NOPERM_ACCESS_KEY_ID: ids.userWithoutDescribeRegions.accessKeyId,
        NOPERM_SECRET: ids.userWithoutDescribeRegions.secretAccessKey,
        SRC_ACCESS_KEY_ID: ids.roleSourceUser.accessKeyId,
        SRC_SECRET: ids.roleSourceUser.secretAccessKey,
      },
    });
  }, 120_000);

  afterAll(async () => {
    await delegate?.stop();
    await relay?.close();
    blackHole?.close();
    await moto?.stop();
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const newAccountId = async () => (await runCli(['new-account-id'])).stdout.trim();
  const seal = async (secret: string, accountId: string, field: string) =>
    (await runCli(['seal', '--api-url', cp.httpUrl, '--group', 'vpc-east', '--account', accountId, '--field', field], secret, { ATTACHE_API_KEY: api.key })).stdout.trim();

  const account = async (name: string, auth: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
    const res = await record(api.post('/v1/aws/accounts', { name, partition: 'aws', auth, delegateSelectors: ['aws'], ...extra }));
    expect(res.status, res.text).toBe(201);
    return res.body.id as string;
  };
  const validate = async (id: string) => {
    const res = await record(api.post(`/v1/aws/accounts/${id}/validate?waitSeconds=30`));
    expect(res.status, res.text).toBe(200);
    return res.body as { account: any; task: any };
  };
  const staticEnv = (keyVar: string, secret: string) => ({ type: 'static', accessKeyId: `env:${keyVar}`, secretAccessKey: secret });

  it('publishes the group key: the API serves it and the delegate carries its key tag', async () => {
    const res = await record(api.get('/v1/delegate-groups/vpc-east/public-key'));
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ tenantId: tenant.id, group: 'vpc-east', current: { keyId: keygen.keyId } });
    const delegates = await record(api.get('/v1/delegates'));
    expect(delegates.body.items[0].tags).toContain(`key:${keygen.keyId}`);
  });

  it('succeeds with env, file and sealed secrets, and with an assumed role', async () => {
    expect((await validate(await account('env', staticEnv('GOOD_ACCESS_KEY_ID', 'env:GOOD_SECRET')))).account.status).toBe('valid');
    const fileSecret = `file:${join(dir, 'aws-secret')}`;
    expect((await validate(await account('file', staticEnv('GOOD_ACCESS_KEY_ID', fileSecret)))).account.status).toBe('valid');

    const id = await newAccountId();
    const sealed = await seal(ids.validUser.secretAccessKey, id, 'secretAccessKey');
    expect(sealed).toMatch(new RegExp(`^sealed:v1:${keygen.keyId}:`));
    await account('sealed', staticEnv('GOOD_ACCESS_KEY_ID', sealed), { id });
    const ok = await validate(id);
    expect(ok.task.state, JSON.stringify(ok.task.error)).toBe('succeeded');
    expect(ok.task.selectors).toContain(`key:${keygen.keyId}`);
    expect(ok.account).toMatchObject({ status: 'valid', arn: ids.validUser.arn });

    const role = await account('role', { type: 'assumeRole', roleArn: ids.role.roleArn, source: staticEnv('SRC_ACCESS_KEY_ID', 'env:SRC_SECRET') });
    expect((await validate(role)).account.status).toBe('valid');

    const usage = await record(api.get('/v1/delegate-groups/vpc-east/key-usage'));
    expect(usage.body).toMatchObject({ currentKeyId: keygen.keyId, staleAccounts: [] });
    expect(usage.body.accounts).toEqual([{ id, name: 'sealed', fields: [{ path: 'auth.secretAccessKey', keyId: keygen.keyId }], stale: false }]);
  });

  it('fails in every reachable way without a secret in the answer', async () => {
    const codes = new Map<string, string>();
    const fail = async (name: string, auth: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
      const { task } = await validate(await account(name, auth, extra));
      expect(task.state, name).toBe('failed');
      codes.set(name, task.error.code);
    };
    await fail('wrong-secret', staticEnv('GOOD_ACCESS_KEY_ID', 'env:WRONG_SECRET'));
    await fail('no-permission', staticEnv('NOPERM_ACCESS_KEY_ID', 'env:NOPERM_SECRET'));
    await fail('unresolved', staticEnv('GOOD_ACCESS_KEY_ID', 'env:NOT_SET_ANYWHERE'));
    await fail('wrong-external-id', { type: 'assumeRole', roleArn: ids.role.roleArn, externalId: 'not-the-right-one', source: staticEnv('SRC_ACCESS_KEY_ID', 'env:SRC_SECRET') });

    // A sealed wrong secret: it opens, and AWS refuses it.
    const wrongId = await newAccountId();
    await fail('sealed-wrong-secret', staticEnv('GOOD_ACCESS_KEY_ID', await seal(canaries[3]!.value, wrongId, 'secretAccessKey')), { id: wrongId });

    // Tampered: one ciphertext character changed, still well formed.
    const tamperedId = await newAccountId();
    const sealed = await seal(ids.validUser.secretAccessKey, tamperedId, 'secretAccessKey');
    const last = sealed.at(-2) === 'A' ? 'B' : 'A';
    await fail('sealed-tampered', staticEnv('GOOD_ACCESS_KEY_ID', `${sealed.slice(0, -2)}${last}${sealed.at(-1)}`), { id: tamperedId });

    // Replayed into another account (and into another field) of the same tenant.
    const replayId = await newAccountId();
    await fail('sealed-replayed', staticEnv('GOOD_ACCESS_KEY_ID', sealed), { id: replayId });
    const movedId = await newAccountId();
    const forKeyId = await seal(ids.validUser.secretAccessKey, movedId, 'secretAccessKey');
    await fail('sealed-moved-field', { type: 'static', accessKeyId: forKeyId, secretAccessKey: forKeyId }, { id: movedId });

    // Sealed to a key no delegate holds: routing refuses it before any delegate sees it.
    const otherKey = JSON.parse((await runCli(['keygen', '--out', join(dir, 'other-key.pem')])).stdout) as { publicKeyFile: string; keyId: string };
    const strayId = await newAccountId();
    const stray = (await runCli(['seal', '--public-key-file', otherKey.publicKeyFile, '--tenant', tenant.id, '--account', strayId, '--field', 'secretAccessKey'], ids.validUser.secretAccessKey)).stdout.trim();
    const strayAccount = await account('sealed-other-group', staticEnv('GOOD_ACCESS_KEY_ID', stray), { id: strayId });
    const { task: strayTask } = await validate(strayAccount);
    codes.set('sealed-other-group', strayTask.error.code);
    expect(strayTask.error.details.delegates[0].reasons).toContain(`missing tags: key:${otherKey.keyId}`);

    expect(Object.fromEntries(codes)).toEqual({
      'wrong-secret': 'INVALID_CREDENTIALS',
      'no-permission': 'MISSING_PERMISSION',
      unresolved: 'SECRET_UNRESOLVED',
      'wrong-external-id': 'ASSUME_ROLE_DENIED',
      'sealed-wrong-secret': 'INVALID_CREDENTIALS',
      'sealed-tampered': 'SEALED_VALUE_INVALID',
      'sealed-replayed': 'SEALED_VALUE_INVALID',
      'sealed-moved-field': 'SEALED_VALUE_INVALID',
      'sealed-other-group': 'NO_ELIGIBLE_DELEGATE',
    });
  });

  it('a literal secret is refused at the API, and a sealed value without a chosen account id too', async () => {
    const literal = await record(api.post('/v1/aws/accounts', { name: 'literal', partition: 'aws', auth: { type: 'static', accessKeyId: ids.validUser.accessKeyId, secretAccessKey: ids.validUser.secretAccessKey } }));
    expect(literal.status).toBe(400);
    const id = await newAccountId();
    const unbound = await record(api.post('/v1/aws/accounts', { name: 'unbound', partition: 'aws', auth: staticEnv('GOOD_ACCESS_KEY_ID', await seal(ids.validUser.secretAccessKey, id, 'secretAccessKey')) }));
    expect(unbound.status, unbound.text).toBe(400);
    expect(unbound.text).toContain('new-account-id');
  });

  it('a validation cancelled while the delegate holds the resolved secret', async () => {
    const id = await newAccountId();
    const sealed = await seal(ids.validUser.secretAccessKey, id, 'secretAccessKey');
    const hole = `http://127.0.0.1:${(blackHole.address() as { port: number }).port}`;
    await account('cancelled', staticEnv('GOOD_ACCESS_KEY_ID', sealed), { id, endpoints: { sts: hole, ec2: hole } });
    const started = await record(api.post(`/v1/aws/accounts/${id}/validate?waitSeconds=0`));
    const taskId = started.body.task.id as string;
    await eventually(async () => ((await record(api.get(`/v1/tasks/${taskId}`))).body.state === 'running' ? true : undefined), 15_000, 'task running');
    // Past Accepted, the delegate opens the sealed value and then waits on the silent endpoint.
    await sleep(1_000);
    expect((await record(api.post(`/v1/tasks/${taskId}/cancel`))).status).toBe(200);
    const ended = await record(api.get(`/v1/tasks/${taskId}?waitSeconds=10`));
    expect(ended.body.state).toBe('cancelled');
    // The delegate saw the cancel and reported its own outcome too (it goes through the relay).
    await delegate.waitForLine((l) => l.includes(taskId) && l.includes('task finished'));
  });

  it('scans the database files, logs, API answers and delegate traffic: no canary in any form', async () => {
    // Answers that list everything, as an attacker with the tenant's key would read them.
    for (const path of ['/v1/aws/accounts', '/v1/tasks?limit=500', '/v1/delegates', '/v1/delegate-groups/vpc-east/key-usage']) {
      expect((await record(api.get(path))).status).toBe(200);
    }
    const files = await readdir(cp.dataDir);
    expect(files.filter((f) => f.startsWith('attache.db')).length).toBeGreaterThanOrEqual(2);
    const haystacks: Array<{ where: string; bytes: Buffer }> = [
      ...(await Promise.all(files.map(async (f) => ({ where: `data dir: ${f}`, bytes: await readFile(join(cp.dataDir, f)) })))),
      { where: 'control-plane log', bytes: Buffer.from(cp.proc.lines.join('\n')) },
      { where: 'API answers', bytes: Buffer.from(answers.join('\n')) },
      { where: 'delegate → control plane traffic', bytes: relay.received() },
      { where: 'control plane → delegate traffic', bytes: relay.sent() },
    ];
    // The haystacks are real: the traffic carries the Hello (the group name, the public key id) and the API the tasks.
    expect(relay.received().includes('vpc-east')).toBe(true);
    expect(relay.received().includes(keygen.keyId)).toBe(true);
    expect(answers.join('\n')).toContain('SEALED_VALUE_INVALID');
    // ... and the scan would see a planted canary in each encoding.
    const probe = 'canary-probe-value-0123456789';
    for (const form of encodings(probe)) expect(findLeaks([{ where: 'probe', bytes: Buffer.concat([Buffer.from('x'), form, Buffer.from('y')]) }], [{ name: 'probe', value: probe }])).not.toEqual([]);

    expect(findLeaks(haystacks, canaries)).toEqual([]);
  });
});
