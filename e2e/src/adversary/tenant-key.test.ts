import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api, ApiResponse } from '../support/api.js';
import { findLeaks, runCli, startRelay, type Canary, type Relay } from '../support/canary.js';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from '../support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from '../support/moto.js';
import { createCa, issueCertificate } from '../support/pki.js';
import type { Proc } from '../support/process.js';
import { startRecorder, type Recorder } from '../support/recorder.js';

/**
 * The leaked tenant key. With nothing but a tenant's API key, an attacker describes accounts whose
 * endpoints, portals and references point at its own listener or at the delegate's secrets, and
 * validates them through a real control plane and a real delegate installed the way a customer
 * would (narrow ATTACHE_ALLOW_REFS, no ATTACHE_ALLOW_ENDPOINTS, an egress proxy). Whatever the API
 * accepts, the delegate refuses: the listener on another loopback address sees no connection, and
 * no canary appears in an API answer, a log line, the database files or the delegate's traffic.
 */
describe('adversary: a leaked tenant key cannot make a delegate send its secrets anywhere', () => {
  let dir: string;
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let api: Api;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let recorder: Recorder;
  let cpRelay: Relay;
  let delegate: Proc;
  let keyFile: string;
  const answers: string[] = [];
  const canaries: Canary[] = [];
  const canary = (name: string) => {
    const value = `canary-${name.replace(/\W+/g, '-')}-${randomBytes(12).toString('hex')}`;
    canaries.push({ name, value });
    return value;
  };
  let caPem = '';
  let clientCertPem = '';
  let token = '';

  const record = async (res: Promise<ApiResponse>): Promise<ApiResponse> => {
    const r = await res;
    answers.push(r.text);
    return r;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-adversary-api-'));
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'victim');
    api = tenant.api;
    moto = await startMoto();
    ids = await setupAwsIdentities(moto.endpoint, { externalId: tenant.externalId });
    await moto.enforceAuth();
    recorder = await startRecorder();
    const ca = createCa(dir, 'attacker');
    caPem = ca.certPem;
    clientCertPem = issueCertificate(dir, ca, 'client', 'client').certPem;

    await mkdir(join(dir, 'secrets'), { recursive: true });
    await writeFile(join(dir, 'secrets', 'db-password'), canary('database password file'), { mode: 0o600 });
    await writeFile(join(dir, 'sa-token'), canary('service-account token'), { mode: 0o600 });
    keyFile = (JSON.parse((await runCli(['keygen', '--out', join(dir, 'group-key.pem')])).stdout) as { keyFile: string }).keyFile;
    canaries.push({ name: 'valid secret key', value: ids.validUser.secretAccessKey });

    ({ token } = await createToken(tenant, 'customer'));
    canaries.push({ name: 'delegate token', value: token });
    cpRelay = await startRelay(Number(new URL(cp.grpcUrl).port));
    delegate = await startDelegate(tenant, {
      url: `grpc://127.0.0.1:${cpRelay.port}`,
      token,
      name: 'customer',
      tags: ['aws'],
      env: {
        ATTACHE_KEY_FILE: keyFile,
        ATTACHE_ALLOW_REFS: `env:AWS_*,file:${join(dir, 'secrets')}/*`,
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ids.validUser.secretAccessKey,
        AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, 'sa-token'),
        AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/irsa-pod-role',
        DB_PASSWORD: canary('database password variable'),
        // Any HTTPS request on an account's behalf would try to tunnel through the attacker's listener.
        HTTPS_PROXY: recorder.origin('http'),
      },
    });
  }, 120_000);

  afterAll(async () => {
    await delegate?.stop();
    await cpRelay?.close();
    await recorder?.close();
    await moto?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Creates the account if the API takes it, validates it, and returns the task's error code (or the API's refusal). */
  const attempt = async (name: string, body: Record<string, unknown>): Promise<string> => {
    const created = await record(api.post('/v1/aws/accounts', { name, delegateSelectors: ['aws'], ...body }));
    if (created.status === 400) return `API:${created.body.error.code as string}`;
    expect(created.status, created.text).toBe(201);
    const validated = await record(api.post(`/v1/aws/accounts/${created.body.id as string}/validate?waitSeconds=30`));
    expect(validated.status, validated.text).toBe(200);
    expect(validated.body.task.state, `${name}: ${validated.text}`).toBe('failed');
    return validated.body.task.error.code as string;
  };
  const keys = (secretAccessKey = 'env:AWS_SECRET_ACCESS_KEY', accessKeyId = 'env:AWS_ACCESS_KEY_ID', sessionToken?: string) => ({
    type: 'static',
    accessKeyId,
    secretAccessKey,
    ...(sessionToken ? { sessionToken } : {}),
  });

  it('an honest account still validates (the delegate is usable, and the scans have real traffic)', async () => {
    const created = await record(api.post('/v1/aws/accounts', { name: 'honest', partition: 'aws', delegateSelectors: ['aws'], auth: keys() }));
    expect(created.status, created.text).toBe(201);
    const validated = await record(api.post(`/v1/aws/accounts/${created.body.id as string}/validate?waitSeconds=30`));
    expect(validated.body.account.status, validated.text).toBe('valid');
  });

  it('every endpoint override at the attacker is refused by the delegate, before any connection', async () => {
    const attacker = recorder.origin('https');
    expect(await attempt('sts-override', { partition: 'aws', auth: keys(), endpoints: { sts: attacker } })).toBe('ENDPOINT_NOT_ALLOWED');
    expect(await attempt('ec2-override', { partition: 'aws', auth: keys(), endpoints: { ec2: attacker } })).toBe('ENDPOINT_NOT_ALLOWED');
    expect(await attempt('http-override', { partition: 'aws', auth: keys(), endpoints: { sts: recorder.origin('http'), ec2: recorder.origin('http') } })).toBe('ENDPOINT_NOT_ALLOWED');
    expect(await attempt('irsa-override', { partition: 'aws', auth: { type: 'irsa' }, endpoints: { sts: attacker } })).toBe('ENDPOINT_NOT_ALLOWED');
    expect(await attempt('pod-identity-override', { partition: 'aws', auth: { type: 'podIdentity' }, endpoints: { sts: attacker } })).toBe('ENDPOINT_NOT_ALLOWED');
    expect(await attempt('role-override', { partition: 'aws', auth: { type: 'assumeRole', roleArn: ids.role.roleArn, source: keys() }, endpoints: { sts: attacker } })).toBe('ENDPOINT_NOT_ALLOWED');
    expect(recorder.connections).toBe(0);
  });

  it('the classic exfiltration: secret key as key id, delegate token as session token, STS at the attacker', async () => {
    const code = await attempt('exfiltrate', { partition: 'aws', auth: keys('env:AWS_SECRET_ACCESS_KEY', 'env:AWS_SECRET_ACCESS_KEY', 'env:ATTACHE_TOKEN'), endpoints: { sts: recorder.origin('http') } });
    expect(['ENDPOINT_NOT_ALLOWED', 'SECRET_NOT_ALLOWED']).toContain(code);
    expect(await attempt('exfiltrate-via-aws', { partition: 'aws', auth: keys('env:AWS_SECRET_ACCESS_KEY', 'env:AWS_SECRET_ACCESS_KEY', 'env:ATTACHE_TOKEN') })).toBe('SECRET_NOT_ALLOWED');
    expect(recorder.connections).toBe(0);
  });

  it('SCAP and CAP portals pointed into the customer network are refused', async () => {
    const scap = (partition: string, testRegion: string) => ({
      partition,
      testRegion,
      caBundle: caPem,
      auth: { type: 'scap', portalUrl: `${recorder.origin('https')}/portal`, agencyName: 'A', accountName: 'B', roleName: 'R', userCertificate: clientCertPem, userKey: `file:${join(dir, 'secrets', 'db-password')}` },
    });
    expect(await attempt('scap-ssrf', scap('aws-iso-b', 'us-isob-east-1'))).toBe('ENDPOINT_NOT_ALLOWED');
    expect(await attempt('cap-ssrf', scap('aws-iso', 'us-iso-east-1'))).toBe('ENDPOINT_NOT_ALLOWED');
    expect(recorder.connections).toBe(0);
  });

  it('references outside the policy, reserved ones and special files are refused by name, never by value', async () => {
    const refs = {
      'env-outside': keys('env:DB_PASSWORD'),
      'attache-token': keys('env:ATTACHE_TOKEN'),
      'attache-setting': keys('env:ATTACHE_URL'),
      'key-file': keys(`file:${keyFile}`),
      'sa-token': keys(`file:${join(dir, 'sa-token')}`),
      'proc-environ': keys('file:/proc/self/environ'),
      'dev-zero': keys('file:/dev/zero'),
      'traversal': keys(`file:${join(dir, 'secrets')}/../sa-token`),
      'header-from-secret-file': keys('env:AWS_SECRET_ACCESS_KEY', `file:${join(dir, 'secrets', 'db-password')}`),
      'session-from-secret': keys('env:AWS_SECRET_ACCESS_KEY', 'env:AWS_ACCESS_KEY_ID', 'env:AWS_SECRET_ACCESS_KEY'),
    };
    const codes: Record<string, string> = {};
    for (const [name, auth] of Object.entries(refs)) codes[name] = await attempt(name, { partition: 'aws', auth });
    expect(codes).toEqual(Object.fromEntries(Object.keys(refs).map((name) => [name, 'SECRET_NOT_ALLOWED'])));
    expect(answers.join('\n')).toContain('ATTACHE_ALLOW_REFS');
  });

  it('GET /v1/delegates shows what the delegate permits, without any secret', async () => {
    const res = await record(api.get('/v1/delegates'));
    const mine = (res.body.items as Array<Record<string, any>>).find((d) => d.name === 'customer')!;
    expect(mine.policy).toMatchObject({ allowRefs: ['env:AWS_*', `file:${join(dir, 'secrets')}/*`], allowEndpoints: [] });
    expect(mine.policy.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('leaked nothing: no connection to the attacker, no canary in answers, logs, database files or delegate traffic', async () => {
    for (const path of ['/v1/aws/accounts', '/v1/tasks?limit=500', '/v1/delegates']) expect((await record(api.get(path))).status).toBe(200);
    expect(recorder.connections).toBe(0);
    const files = (await readdir(cp.dataDir)).filter((f) => f.startsWith('attache.db'));
    expect(files.length).toBeGreaterThanOrEqual(1);
    const haystacks = [
      ...(await Promise.all(files.map(async (f) => ({ where: `data dir: ${f}`, bytes: await readFile(join(cp.dataDir, f)) })))),
      { where: 'control-plane log', bytes: Buffer.from(cp.proc.lines.join('\n')) },
      { where: 'delegate log', bytes: Buffer.from(delegate.lines.join("\n")) },
      { where: 'API answers', bytes: Buffer.from(answers.join('\n')) },
      { where: 'delegate → control plane traffic', bytes: cpRelay.received() },
    ];
    // Positive control: the traffic is real (the Hello named the group), and a planted canary would be found.
    expect(cpRelay.received().includes('customer')).toBe(true);
    expect(findLeaks([{ where: 'probe', bytes: Buffer.from(`x${canaries[0]!.value}y`) }], [canaries[0]!])).toHaveLength(1);
    expect(findLeaks(haystacks, canaries)).toEqual([]);
  });
});
