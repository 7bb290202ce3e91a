import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from './support/moto.js';
import { createCa, issueCertificate, type CertificateAuthority, type IssuedCertificate } from './support/pki.js';
import type { Proc } from './support/process.js';
import { roleKeys, startScapPortal, type ScapPortal } from './support/scap-portal.js';

/**
 * The auth types beyond static keys, end to end through the control plane and a delegate process:
 * - irsa against a second moto without auth enforcement (enforced moto crashes on the unsigned
 *   AssumeRoleWithWebIdentity call), with the pod's AWS_ROLE_ARN or the account's role, and as the
 *   source of an assumeRole;
 * - podIdentity from a loopback credentials endpoint that checks the authorization token file;
 * - scap from an HTTPS portal that requires a client certificate of the test CA and hands out
 *   temporary keys of a role in moto's aws-iso-b (SC2S) or aws-iso (C2S) world, validated against
 *   moto over HTTPS with auth enforced and the same private CA as caBundle.
 */
describe('AWS auth types end to end', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  let serverCert: IssuedCertificate;
  let clientCert: IssuedCertificate;
  let rogueCert: IssuedCertificate;
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let tlsMoto: MotoServer;
  let webMoto: MotoServer;
  let std: MotoIdentities;
  let isob: MotoIdentities;
  let iso: MotoIdentities;
  let portal: ScapPortal;
  let portalUrl: string;
  let podServer: Server;
  const podAuthorizations: string[] = [];
  let delegate: Proc;
  const irsaRoleArn = 'arn:aws:iam::123456789012:role/irsa-pod-role';
  const otherIrsaRoleArn = 'arn:aws:iam::123456789012:role/irsa-account-role';
  const chainedRoleArn = 'arn:aws:iam::123456789012:role/chained-role';
  const POD_TOKEN = 'pod-identity-token-for-tests';

  const temporaryKeys = (ids: MotoIdentities) => roleKeys(ids, { endpoint: tlsMoto.endpoint, caPem: ca.certPem });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-auth-types-'));
    ca = createCa(dir, 'scap-ca');
    otherCa = createCa(dir, 'rogue-ca');
    serverCert = issueCertificate(dir, ca, 'server', 'server');
    clientCert = issueCertificate(dir, ca, 'scap-user', 'client');
    rogueCert = issueCertificate(dir, otherCa, 'rogue-user', 'client');

    cp = await startControlPlane();
    tenant = await createTenant(cp, 'auth-types');

    tlsMoto = await startMoto({ tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, caPem: ca.certPem } });
    std = await setupAwsIdentities(tlsMoto.endpoint, { caPem: ca.certPem });
    isob = await setupAwsIdentities(tlsMoto.endpoint, { region: 'us-isob-east-1', namePrefix: 'isob', caPem: ca.certPem });
    iso = await setupAwsIdentities(tlsMoto.endpoint, { region: 'us-iso-east-1', namePrefix: 'iso', caPem: ca.certPem });
    await tlsMoto.enforceAuth();

    webMoto = await startMoto();
    const iam = new IAMClient({ region: 'us-east-1', endpoint: webMoto.endpoint, credentials: { accessKeyId: 'AKIASETUPONLY0000000', secretAccessKey: 'setup-only' } });
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/TEST' }, Action: 'sts:AssumeRoleWithWebIdentity' }],
    });
    for (const arn of [irsaRoleArn, otherIrsaRoleArn, chainedRoleArn]) {
      await iam.send(new CreateRoleCommand({ RoleName: arn.split('/').pop()!, AssumeRolePolicyDocument: trust }));
    }
    iam.destroy();

    portal = await startScapPortal({ server: serverCert, caPem: ca.certPem, issue: (c2s) => temporaryKeys(c2s ? iso : isob) });
    portalUrl = portal.origin;

    podServer = createHttpServer((req, res) => {
      podAuthorizations.push(String(req.headers.authorization ?? ''));
      if (req.headers.authorization !== POD_TOKEN) {
        res.writeHead(401).end('{"message":"bad token"}');
        return;
      }
      temporaryKeys(std).then((c) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ AccessKeyId: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken, Expiration: c.Expiration?.toISOString() })),
      );
    });
    podServer.listen(0, '127.0.0.1');
    await once(podServer, 'listening');

    const tokenFile = join(dir, 'web-identity-token');
    await writeFile(tokenFile, 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXR0YWNoZTpkZWxlZ2F0ZSJ9.c2lnbmF0dXJl\n');
    const podTokenFile = join(dir, 'pod-identity-token');
    await writeFile(podTokenFile, POD_TOKEN);
    const { token } = await createToken(tenant, 'auth-types');
    delegate = await startDelegate(tenant, {
      url: cp.grpcUrl,
      token,
      name: 'eks',
      tags: ['eks'],
      env: {
        // Its installer allows the SCAP user keys, the emulators and the portal the accounts name.
        ATTACHE_ALLOW_REFS: `file:${clientCert.keyFile},file:${rogueCert.keyFile}`,
        ATTACHE_ALLOW_ENDPOINTS: [webMoto.endpoint, tlsMoto.endpoint, portalUrl].map((u) => new URL(u).origin).join(','),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: irsaRoleArn,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(podServer.address() as { port: number }).port}/v1/credentials`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: podTokenFile,
      },
    });
  }, 120_000);

  afterAll(async () => {
    await delegate?.stop();
    await portal?.close();
    podServer?.close();
    await webMoto?.stop();
    await tlsMoto?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const create = (body: Record<string, unknown>) => tenant.api.post('/v1/aws/accounts', { delegateSelectors: ['eks'], ...body });
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
  const web = () => ({ sts: webMoto.endpoint, ec2: webMoto.endpoint });
  const tls = () => ({ sts: tlsMoto.endpoint, ec2: tlsMoto.endpoint });
  const scap = (extra: Record<string, unknown> = {}) => ({
    type: 'scap',
    portalUrl: `${portalUrl}/sc2s/getTemporaryCredentials`,
    agencyName: 'NAVY',
    accountName: '123456789012',
    roleName: 'DevOpsRole',
    userCertificate: clientCert.certPem,
    userKey: `file:${clientCert.keyFile}`,
    ...extra,
  });
  const isobAccount = (name: string, auth: Record<string, unknown>) => ({ name, partition: 'aws-iso-b', caBundle: ca.certPem, endpoints: tls(), auth });

  it("irsa: AssumeRoleWithWebIdentity with the pod's token and AWS_ROLE_ARN", async () => {
    const { account: acc, task } = await validate(await account({ name: 'irsa-pod-role', partition: 'aws', endpoints: web(), auth: { type: 'irsa' } }));
    expect(task.state, JSON.stringify(task.error)).toBe('succeeded');
    expect(acc.status).toBe('valid');
    expect(acc.arn).toContain(':assumed-role/irsa-pod-role/');
    expect(task.result.steps.map((s: any) => s.name)).toEqual(['sts:AssumeRoleWithWebIdentity', 'sts:GetCallerIdentity', 'ec2:DescribeRegions']);
  });

  it("irsa: the account's roleArn wins over the pod's", async () => {
    const { account: acc } = await validate(await account({ name: 'irsa-account-role', partition: 'aws', endpoints: web(), auth: { type: 'irsa', roleArn: otherIrsaRoleArn, sessionName: 'attache-irsa' } }));
    expect(acc.arn).toContain(':assumed-role/irsa-account-role/attache-irsa');
  });

  it('assumeRole over an irsa source, with a session name and duration', async () => {
    const id = await account({
      name: 'chained',
      partition: 'aws',
      endpoints: web(),
      auth: { type: 'assumeRole', roleArn: chainedRoleArn, sessionName: 'attache-chain', durationSeconds: 900, source: { type: 'irsa' } },
    });
    const { account: acc, task } = await validate(id);
    expect(task.state, JSON.stringify(task.error)).toBe('succeeded');
    expect(acc.arn).toContain(':assumed-role/chained-role/attache-chain');
    expect(task.result.steps.map((s: any) => s.name)).toEqual(['sts:AssumeRoleWithWebIdentity', 'sts:AssumeRole', 'sts:GetCallerIdentity', 'ec2:DescribeRegions']);
  });

  it('podIdentity: credentials from the container endpoint, authorised by the token file', async () => {
    const id = await account({ name: 'pod-identity', partition: 'aws', caBundle: ca.certPem, endpoints: tls(), auth: { type: 'podIdentity' } });
    const { account: acc, task } = await validate(id);
    expect(task.state, JSON.stringify(task.error)).toBe('succeeded');
    expect(acc).toMatchObject({ status: 'valid', awsAccountId: std.accountId });
    expect(acc.arn).toContain(`:assumed-role/${std.role.roleName}/`);
    expect(podAuthorizations.at(-1)).toBe(POD_TOKEN);
  });

  it('scap (SC2S, aws-iso-b): keys from the portal over mutual TLS, role with the default PROJECT_ prefix', async () => {
    const before = portal.queries.length;
    const { account: acc, task } = await validate(await account(isobAccount('scap-sc2s', scap())));
    expect(task.state, JSON.stringify(task.error)).toBe('succeeded');
    expect(portal.queries.slice(before)).toEqual([{ agency: 'NAVY', accountName: '123456789012', roleName: 'PROJECT_DevOpsRole' }]);
    expect(acc).toMatchObject({ status: 'valid', awsAccountId: isob.accountId });
    expect(acc.arn.startsWith(`arn:aws-iso-b:sts::${isob.accountId}:assumed-role/${isob.role.roleName}/`)).toBe(true);
    expect(task.result.steps.map((s: any) => s.name)).toContain('scap:GetTemporaryCredentials');
  });

  it('scap (C2S, aws-iso): the Top Secret portal style with agency, mission and role, custom prefix', async () => {
    const before = portal.queries.length;
    const id = await account({
      name: 'scap-c2s',
      partition: 'aws-iso',
      caBundle: ca.certPem,
      endpoints: tls(),
      auth: scap({ portalUrl: `${portalUrl}/c2s/api/v1/credentials`, rolePrefix: 'TS_', roleName: 'Ops', permissionBoundaryArn: 'arn:aws-iso:iam::123456789012:policy/Boundary' }),
    });
    const { account: acc, task } = await validate(id);
    expect(task.state, JSON.stringify(task.error)).toBe('succeeded');
    expect(portal.queries.slice(before)).toEqual([{ agency: 'NAVY', mission: '123456789012', role: 'TS_Ops' }]);
    expect(acc.arn.startsWith('arn:aws-iso:sts::')).toBe(true);
  });

  it('scap: a client certificate the portal does not accept is SCAP_DENIED', async () => {
    const { task } = await validate(await account(isobAccount('scap-rogue', scap({ userCertificate: rogueCert.certPem, userKey: `file:${rogueCert.keyFile}` }))));
    expect(task.error.code).toBe('SCAP_DENIED');
    expect(task.error.message).toContain('refused the mutual TLS handshake');
    expect(task.error.message).toContain('user certificate');
  });

  it("scap: an HTML answer with status 200 is SCAP_DENIED with the portal's words", async () => {
    const { task } = await validate(await account(isobAccount('scap-html', scap({ portalUrl: `${portalUrl}/html/getTemporaryCredentials` }))));
    expect(task.error.code).toBe('SCAP_DENIED');
    expect(task.error.message).toContain('Access Denied');
    expect(task.error.message).toContain('Your certificate is not authorized for agency NAVY.');
  });

  it("scap: a non-2xx answer is SCAP_DENIED with the portal's message", async () => {
    const { task } = await validate(await account(isobAccount('scap-403', scap({ roleName: 'Unknown' }))));
    expect(task.error.code).toBe('SCAP_DENIED');
    expect(task.error.message).toContain('HTTP 403');
    expect(task.error.message).toContain('Role PROJECT_Unknown is not provisioned for this account.');
  });

  it('scap descriptions are checked at the API: 64-character role names, partitions, ARNs, PEM, key references', async () => {
    const long = await create(isobAccount('scap-long', scap({ roleName: 'R'.repeat(57) })));
    expect(long.status).toBe(400);
    expect(long.body.error.message).toContain(`PROJECT_${'R'.repeat(57)} has 65 characters; IAM allows at most 64`);
    expect((await create(isobAccount('scap-64', scap({ roleName: 'R'.repeat(56) })))).status).toBe(201);

    const standard = await create({ name: 'scap-standard', partition: 'aws', auth: scap() });
    expect(standard.status).toBe(400);
    expect(standard.body.error.message).toContain('must be aws-iso-b or aws-iso');

    const boundary = await create(isobAccount('scap-boundary', scap({ permissionBoundaryArn: 'MyPermissionBoundaryPolicy' })));
    expect(boundary.status).toBe(400);
    expect(boundary.body.error.message).toContain('must be an IAM policy ARN');

    const cert = await create(isobAccount('scap-bad-cert', scap({ userCertificate: 'not a certificate' })));
    expect(cert.status).toBe(400);
    expect(cert.body.error.message).toContain('malformed PEM');

    const literal = await create(isobAccount('scap-literal-key', scap({ userKey: clientCert.keyPem })));
    expect(literal.status).toBe(400);
    expect(literal.body.error.code).toBe('LITERAL_SECRET_REJECTED');
  });
});
