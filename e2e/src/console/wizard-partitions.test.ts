/// <reference lib="dom" />
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../support/api.js';
import { startControlPlane, startDelegate, type ControlPlaneHandle } from '../support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from '../support/moto.js';
import { createCa, issueCertificate, type CertificateAuthority } from '../support/pki.js';
import type { Proc } from '../support/process.js';
import { openConsole, seriousViolations, signIn, type ConsoleBrowser } from './chromium.js';

const ADMIN = { email: 'gus@partitions.example', name: 'Gus Admin', password: 'partitions admin password 1' };

const IRSA_ROLE_ARN = 'arn:aws:iam::123456789012:role/console-irsa-pod-role';
const POD_TOKEN = 'console-pod-identity-token';

/**
 * Partitions and pod credentials through the wizard: GovCloud keys in "AWS GovCloud (US)" with its
 * default test region, the Secret region (SC2S) over HTTPS whose endpoints only the account's CA
 * bundle trusts, and IRSA (the pod's web identity token) against a moto without auth enforcement
 * (enforced moto cannot answer the unsigned AssumeRoleWithWebIdentity).
 */
describe('the wizard’s partitions, in a browser', () => {
  let dir: string;
  let cp: ControlPlaneHandle;
  let api: Api;
  let moto: MotoServer;
  let tlsMoto: MotoServer;
  let webMoto: MotoServer;
  let podServer: Server;
  const podAuthorizations: string[] = [];
  let gov: MotoIdentities;
  let isob: MotoIdentities;
  let ca: CertificateAuthority;
  let delegate: Proc;
  let browser: ConsoleBrowser;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-console-partitions-'));
    ca = createCa(dir, 'secret-region-ca');
    const serverCert = issueCertificate(dir, ca, 'moto-server', 'server');
    cp = await startControlPlane();
    const created = await cp.operator.post('/v1/tenants', { name: 'partitions', admin: ADMIN });
    expect(created.status, created.text).toBe(201);
    api = cp.operator.withKey(created.body.apiKey);
    moto = await startMoto();
    gov = await setupAwsIdentities(moto.endpoint, { region: 'us-gov-west-1', namePrefix: 'gov' });
    await moto.enforceAuth();
    tlsMoto = await startMoto({ tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, caPem: ca.certPem } });
    isob = await setupAwsIdentities(tlsMoto.endpoint, { region: 'us-isob-east-1', namePrefix: 'isob', caPem: ca.certPem });
    await tlsMoto.enforceAuth();
    webMoto = await startMoto();
    const iam = new IAMClient({ region: 'us-east-1', endpoint: webMoto.endpoint, credentials: { accessKeyId: 'AKIASETUPONLY0000000', secretAccessKey: 'setup-only' } });
    try {
      const trust = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/TEST' }, Action: 'sts:AssumeRoleWithWebIdentity' }] };
      await iam.send(new CreateRoleCommand({ RoleName: IRSA_ROLE_ARN.split('/').pop()!, AssumeRolePolicyDocument: JSON.stringify(trust) }));
    } finally {
      iam.destroy();
    }
    // An EKS Pod Identity agent: temporary keys for the token in the pod's token file (the
    // un-enforced moto takes any keys; the test checks that the agent was asked, with the token).
    podServer = createServer((req, res) => {
      podAuthorizations.push(String(req.headers.authorization ?? ''));
      if (req.headers.authorization !== POD_TOKEN) return void res.writeHead(401).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({ AccessKeyId: 'ASIAPODIDENTITY00001', SecretAccessKey: 'pod-identity-secret', Token: 'pod-identity-session', Expiration: new Date(Date.now() + 3_600_000).toISOString() }),
      );
    });
    podServer.listen(0, '127.0.0.1');
    await once(podServer, 'listening');
    const podTokenFile = join(dir, 'pod-token');
    await writeFile(podTokenFile, POD_TOKEN, { mode: 0o600 });
    const tokenFile = join(dir, 'web-identity-token');
    await writeFile(tokenFile, 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXR0YWNoZTpkZWxlZ2F0ZSJ9.c2ln', { mode: 0o600 });
    const token = await api.post('/v1/delegate-tokens', { name: 'partitions' });
    delegate = await startDelegate({ id: created.body.id, name: 'partitions', api, externalId: '' }, {
      url: cp.grpcUrl,
      token: token.body.token,
      name: 'gov-east',
      tags: ['aws'],
      env: {
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        ATTACHE_ALLOW_REFS: 'env:GOV_*,env:ISOB_*',
        ATTACHE_ALLOW_ENDPOINTS: [tlsMoto.endpoint, webMoto.endpoint].map((u) => new URL(u).origin).join(','),
        AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
        AWS_ROLE_ARN: IRSA_ROLE_ARN,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(podServer.address() as { port: number }).port}/v1/credentials`,
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: podTokenFile,
        GOV_ACCESS_KEY_ID: gov.validUser.accessKeyId,
        GOV_SECRET: gov.validUser.secretAccessKey,
        ISOB_ACCESS_KEY_ID: isob.validUser.accessKeyId,
        ISOB_SECRET: isob.validUser.secretAccessKey,
      },
    });
    browser = await openConsole(cp.httpUrl);
    await signIn(browser.page, ADMIN.email, ADMIN.password);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await delegate?.stop();
    podServer?.close();
    await webMoto?.stop();
    await tlsMoto?.stop();
    await moto?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const accountNamed = async (name: string) => ((await api.get('/v1/aws/accounts?limit=500')).body.items as any[]).find((a) => a.name === name);
  const validateToValid = async (page: Page) => {
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Validate' }).click();
    const progress = page.getByRole('region', { name: 'Validation progress' });
    await progress.getByText('✓ Valid').waitFor({ timeout: 30_000 });
    expect(await progress.textContent()).toContain('On delegate gov-east');
  };

  it('GovCloud: the partition prefills us-gov-west-1 and GovCloud keys are valid with a GovCloud ARN', async () => {
    const { page } = browser;
    await page.goto('/accounts/new');
    await page.getByLabel('Account name').fill('govcloud');
    await page.getByLabel('Partition').selectOption({ label: 'AWS GovCloud (US)' });
    expect(await page.getByLabel('Test region').inputValue()).toBe('us-gov-west-1');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Access key ID', { exact: true }).fill('env:GOV_ACCESS_KEY_ID');
    await page.getByLabel('Secret access key', { exact: true }).fill('env:GOV_SECRET');
    await page.getByRole('button', { name: 'Next' }).click();
    await validateToValid(page);
    const saved = await accountNamed('govcloud');
    expect(saved).toMatchObject({ status: 'valid', partition: 'aws-us-gov', testRegion: 'us-gov-west-1', arn: gov.validUser.arn });
    expect(saved.arn.startsWith('arn:aws-us-gov:iam::')).toBe(true);
  });

  it('SC2S: the Secret region over HTTPS with the CA bundle and endpoint overrides', async () => {
    const { page } = browser;
    await page.goto('/accounts/new');
    await page.getByLabel('Account name').fill('secret-region');
    await page.getByLabel('Partition').selectOption({ label: 'AWS Secret Region (SC2S)' });
    expect(await page.getByLabel('Test region').inputValue()).toBe('us-isob-east-1');
    await page.getByText('Endpoint overrides (optional)').click();
    await page.getByLabel('STS endpoint').fill(tlsMoto.endpoint);
    await page.getByLabel('EC2 endpoint').fill(tlsMoto.endpoint);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Access key ID', { exact: true }).fill('env:ISOB_ACCESS_KEY_ID');
    await page.getByLabel('Secret access key', { exact: true }).fill('env:ISOB_SECRET');
    await page.getByLabel('CA bundle').fill(ca.certPem);
    await page.getByRole('button', { name: 'Next' }).click();
    await validateToValid(page);
    expect(await accountNamed('secret-region')).toMatchObject({
      status: 'valid',
      partition: 'aws-iso-b',
      caBundle: ca.certPem,
      endpoints: { sts: tlsMoto.endpoint, ec2: tlsMoto.endpoint },
      arn: isob.validUser.arn,
    });
  });

  it("IRSA: the pod's web identity token and AWS_ROLE_ARN, with the STS and EC2 endpoints overridden", async () => {
    const { page } = browser;
    await page.goto('/accounts/new');
    await page.getByLabel('Account name').fill('irsa-pod');
    await page.getByText('Endpoint overrides (optional)').click();
    await page.getByLabel('STS endpoint').fill(webMoto.endpoint);
    await page.getByLabel('EC2 endpoint').fill(webMoto.endpoint);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('IRSA').check();
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Next' }).click();
    await validateToValid(page);
    expect(await page.getByRole('region', { name: 'Validation progress' }).textContent()).toContain('sts:AssumeRoleWithWebIdentity');
    const saved = await accountNamed('irsa-pod');
    expect(saved).toMatchObject({ status: 'valid', auth: { type: 'irsa' }, endpoints: { sts: webMoto.endpoint, ec2: webMoto.endpoint } });
    expect(saved.arn).toContain(':assumed-role/console-irsa-pod-role/');
  });

  it('EKS Pod Identity: credentials from the pod’s agent, authorised by its token file', async () => {
    const { page } = browser;
    const asked = podAuthorizations.length;
    await page.goto('/accounts/new');
    await page.getByLabel('Account name').fill('pod-identity');
    await page.getByText('Endpoint overrides (optional)').click();
    await page.getByLabel('STS endpoint').fill(webMoto.endpoint);
    await page.getByLabel('EC2 endpoint').fill(webMoto.endpoint);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('EKS Pod Identity').check();
    await page.getByRole('button', { name: 'Next' }).click();
    await validateToValid(page);
    expect(await accountNamed('pod-identity')).toMatchObject({ status: 'valid', auth: { type: 'podIdentity' }, awsAccountId: '123456789012' });
    expect(podAuthorizations.slice(asked)).toContain(POD_TOKEN);
  });
});
