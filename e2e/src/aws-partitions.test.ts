import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { startConnectProxy, type ConnectProxy } from './support/connect-proxy.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from './support/moto.js';
import { createCa, issueCertificate, type CertificateAuthority } from './support/pki.js';
import type { Proc } from './support/process.js';

/**
 * Partitions end to end: API → control plane → delegate → moto_server with auth enforced, over
 * plain HTTP (standard and GovCloud worlds) and over HTTPS with a private CA made here (the Secret
 * region, aws-iso-b, whose endpoints only a caBundle trusts). moto keeps one IAM world per
 * partition, chosen by the signing region, so GovCloud keys are unknown in us-east-1 as on AWS.
 */
describe('AWS partitions, regions, CA bundles and proxies end to end', () => {
  let dir: string;
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let moto: MotoServer;
  let tlsMoto: MotoServer;
  let ids: MotoIdentities;
  let gov: MotoIdentities;
  let isob: MotoIdentities;
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let proxy: ConnectProxy;
  const delegates: Proc[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-partitions-'));
    ca = createCa(dir, 'secret-region-ca');
    otherCa = createCa(dir, 'unrelated-ca');
    const serverCert = issueCertificate(dir, ca, 'moto-server', 'server');

    cp = await startControlPlane();
    tenant = await createTenant(cp, 'partitions');
    moto = await startMoto();
    ids = await setupAwsIdentities(moto.endpoint);
    gov = await setupAwsIdentities(moto.endpoint, { region: 'us-gov-west-1', namePrefix: 'gov' });
    await moto.enforceAuth();
    tlsMoto = await startMoto({ tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, caPem: ca.certPem } });
    isob = await setupAwsIdentities(tlsMoto.endpoint, { region: 'us-isob-east-1', namePrefix: 'isob', caPem: ca.certPem });
    await tlsMoto.enforceAuth();
    proxy = await startConnectProxy();

    const env = {
      // Every partition resolves to the plain-HTTP moto unless the account overrides its endpoints.
      AWS_ENDPOINT_URL: moto.endpoint,
      AWS_EC2_METADATA_DISABLED: 'true',
      // Its installer allows the test's keys and the Secret-region emulator the accounts override to.
      ATTACHE_ALLOW_REFS: 'env:STD_*,env:GOV_*,env:ISOB_*',
      ATTACHE_ALLOW_ENDPOINTS: new URL(tlsMoto.endpoint).origin,
      STD_ACCESS_KEY_ID: ids.validUser.accessKeyId,
      STD_SECRET: ids.validUser.secretAccessKey,
      GOV_ACCESS_KEY_ID: gov.validUser.accessKeyId,
      GOV_SECRET: gov.validUser.secretAccessKey,
      ISOB_ACCESS_KEY_ID: isob.validUser.accessKeyId,
      ISOB_SECRET: isob.validUser.secretAccessKey,
    };
    const { token } = await createToken(tenant, 'partitions');
    delegates.push(await startDelegate(tenant, { url: cp.grpcUrl, token, name: 'direct', tags: ['direct'], env }));
    delegates.push(await startDelegate(tenant, { url: cp.grpcUrl, token, name: 'proxied', tags: ['proxied'], env: { ...env, HTTPS_PROXY: proxy.url, NO_PROXY: '' } }));
  }, 120_000);

  afterAll(async () => {
    for (const d of delegates) await d.stop();
    await proxy?.stop();
    await tlsMoto?.stop();
    await moto?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const create = (body: Record<string, unknown>) => tenant.api.post('/v1/aws/accounts', { delegateSelectors: ['direct'], ...body });
  const account = async (body: Record<string, unknown>) => {
    const res = await create(body);
    expect(res.status, res.text).toBe(201);
    return res.body.id as string;
  };
  const validate = async (id: string) => {
    const res = await tenant.api.post(`/v1/aws/accounts/${id}/validate?waitSeconds=30`);
    expect(res.status, res.text).toBe(200);
    return res.body as { account: any; task: any };
  };
  const govKeys = { type: 'static', accessKeyId: 'env:GOV_ACCESS_KEY_ID', secretAccessKey: 'env:GOV_SECRET' };
  const isobKeys = { type: 'static', accessKeyId: 'env:ISOB_ACCESS_KEY_ID', secretAccessKey: 'env:ISOB_SECRET' };
  const tlsEndpoints = () => ({ sts: tlsMoto.endpoint, ec2: tlsMoto.endpoint });

  it('GovCloud keys validate in aws-us-gov, in its default region, with GovCloud ARNs', async () => {
    const id = await account({ name: 'gov', partition: 'aws-us-gov', auth: govKeys });
    expect((await tenant.api.get(`/v1/aws/accounts/${id}`)).body.testRegion).toBe('us-gov-west-1');
    const { account: acc, task } = await validate(id);
    expect(task.state, JSON.stringify(task.error)).toBe('succeeded');
    expect(acc).toMatchObject({ status: 'valid', arn: gov.validUser.arn });
    expect(acc.arn.startsWith('arn:aws-us-gov:iam::')).toBe(true);
    expect(task.result).toMatchObject({ partition: 'aws-us-gov', region: 'us-gov-west-1' });
  });

  it('GovCloud keys on a standard account are PARTITION_MISMATCH naming aws-us-gov', async () => {
    const id = await account({ name: 'gov-keys-in-aws', partition: 'aws', auth: govKeys });
    const { account: acc, task } = await validate(id);
    expect(task.error.code).toBe('PARTITION_MISMATCH');
    expect(task.error.message).toContain('choose partition aws-us-gov');
    expect(task.error.message).toContain(gov.validUser.arn);
    expect(task.error.details).toMatchObject({ expectedPartition: 'aws', actualPartition: 'aws-us-gov', awsErrorCode: 'InvalidClientTokenId' });
    expect(acc).toMatchObject({ status: 'invalid', lastError: { code: 'PARTITION_MISMATCH' } });
  });

  it('keys no partition knows stay INVALID_CREDENTIALS', async () => {
    const id = await account({ name: 'nobody', partition: 'aws', auth: { type: 'static', accessKeyId: 'env:STD_ACCESS_KEY_ID', secretAccessKey: 'env:GOV_SECRET' } });
    const { task } = await validate(id);
    expect(task.error.code).toBe('INVALID_CREDENTIALS');
    expect(task.error.message).toMatch(/AWS was not able to validate the provided access credentials/);
  });

  it('a test region outside the partition is a 400 naming the region and the partition', async () => {
    const res = await create({ name: 'wrong-region', partition: 'aws-us-gov', testRegion: 'us-east-1', auth: govKeys });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('region "us-east-1" is not in partition aws-us-gov');
    const iso = await create({ name: 'wrong-region-iso', partition: 'aws-iso-b', testRegion: 'us-iso-east-1', caBundle: ca.certPem, auth: isobKeys });
    expect(iso.status).toBe(400);
    expect(iso.body.error.message).toContain('is not in partition aws-iso-b');
    // Another region of the same partition is the tenant's choice (Harness' "Test Region").
    const ok = await account({ name: 'gov-east', partition: 'aws-us-gov', testRegion: 'us-gov-east-1', auth: govKeys });
    const { task } = await validate(ok);
    expect(task.result).toMatchObject({ region: 'us-gov-east-1', partition: 'aws-us-gov' });
    // PATCHing the partition alone moves the test region to the new default, not across partitions.
    const moved = await tenant.api.patch(`/v1/aws/accounts/${ok}`, { partition: 'aws' });
    expect(moved.status, moved.text).toBe(200);
    expect(moved.body.testRegion).toBe('us-east-1');
  });

  it('aws-iso-b without a caBundle, or with a malformed one, is a 400', async () => {
    const none = await create({ name: 'isob-no-ca', partition: 'aws-iso-b', auth: isobKeys });
    expect(none.status).toBe(400);
    expect(none.body.error.message).toContain('caBundle');
    const truncated = ca.certPem.slice(0, ca.certPem.length - 40);
    const bad = await create({ name: 'isob-bad-ca', partition: 'aws-iso-b', caBundle: truncated, auth: isobKeys });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('malformed PEM');
    const garbage = ca.certPem.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!!!!!!!!!!!!!!!!!');
    const corrupt = await create({ name: 'isob-corrupt-ca', partition: 'aws-iso-b', caBundle: garbage, auth: isobKeys });
    expect(corrupt.status).toBe(400);
    expect(corrupt.body.error.message).toContain('not a valid X.509 certificate');
  });

  it('aws-iso-b over HTTPS: the caBundle that signed the endpoint validates; it is the only trust store', async () => {
    const id = await account({ name: 'isob', partition: 'aws-iso-b', caBundle: ca.certPem, endpoints: tlsEndpoints(), auth: isobKeys });
    const view = (await tenant.api.get(`/v1/aws/accounts/${id}`)).body;
    expect(view).toMatchObject({ caBundle: ca.certPem, endpoints: tlsEndpoints(), testRegion: 'us-isob-east-1' });
    const { account: acc, task } = await validate(id);
    expect(task.state, JSON.stringify(task.error)).toBe('succeeded');
    expect(acc).toMatchObject({ status: 'valid', arn: isob.validUser.arn });
    expect(acc.arn.startsWith('arn:aws-iso-b:iam::')).toBe(true);
    // moto's DescribeRegions lists no ISO regions; the call itself must have succeeded.
    expect(task.result.steps.map((s: any) => s.name)).toContain('ec2:DescribeRegions');
  });

  it('a caBundle that did not sign the endpoint is TLS_UNTRUSTED', async () => {
    const id = await account({ name: 'isob-other-ca', partition: 'aws-iso-b', caBundle: otherCa.certPem, endpoints: tlsEndpoints(), auth: isobKeys });
    const { task } = await validate(id);
    expect(task.error.code).toBe('TLS_UNTRUSTED');
    expect(task.error.message).toContain(tlsMoto.endpoint);
    expect(task.error.message).toContain("account's caBundle, which is its only trust store");
  });

  it('HTTPS_PROXY on the delegate: AWS calls go through a CONNECT tunnel, TLS still verified end to end', async () => {
    const before = proxy.tunnels.length;
    const id = await account({ name: 'isob-proxied', partition: 'aws-iso-b', caBundle: ca.certPem, endpoints: tlsEndpoints(), auth: isobKeys, delegateSelectors: ['proxied'] });
    const { account: acc, task } = await validate(id);
    expect(task.state, JSON.stringify(task.error)).toBe('succeeded');
    expect(acc.arn).toBe(isob.validUser.arn);
    const target = new URL(tlsMoto.endpoint).host;
    expect(proxy.tunnels.slice(before).filter((t) => t === target).length).toBeGreaterThan(0);

    // The direct delegate has no proxy: its calls never reach the proxy.
    const directBefore = proxy.tunnels.length;
    const direct = await account({ name: 'isob-direct', partition: 'aws-iso-b', caBundle: ca.certPem, endpoints: tlsEndpoints(), auth: isobKeys });
    expect((await validate(direct)).account.status).toBe('valid');
    expect(proxy.tunnels.length).toBe(directBefore);
  });
});
