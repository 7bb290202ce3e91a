/// <reference lib="dom" />
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../support/api.js';
import { startControlPlane, startDelegate, type ControlPlaneHandle } from '../support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from '../support/moto.js';
import { createCa, issueCertificate, type CertificateAuthority, type IssuedCertificate } from '../support/pki.js';
import type { Proc } from '../support/process.js';
import { roleKeys, startScapPortal, type ScapPortal } from '../support/scap-portal.js';
import { openConsole, screenshot, seriousViolations, signIn, type ConsoleBrowser } from './chromium.js';

const ADMIN = { email: 'sam@scap.example', name: 'Sam Admin', password: 'scap console admin password 1' };

/**
 * "SCAP / CAP portal" through the wizard, in the Secret (SC2S) and Top Secret (C2S) partitions: an
 * HTTPS portal that accepts only client certificates of the test CA hands out temporary keys of a
 * role in moto's aws-iso-b or aws-iso world, and moto (HTTPS, auth enforced, the same private CA)
 * validates them. The delegate allows the portal and moto as a customer's installer would
 * (ATTACHE_ALLOW_ENDPOINTS), and the user key by reference (ATTACHE_ALLOW_REFS).
 */
describe('the wizard’s SCAP / CAP portal, in a browser', () => {
  let dir: string;
  let ca: CertificateAuthority;
  let clientCert: IssuedCertificate;
  let cp: ControlPlaneHandle;
  let api: Api;
  let tlsMoto: MotoServer;
  let isob: MotoIdentities;
  let iso: MotoIdentities;
  let portal: ScapPortal;
  let delegate: Proc;
  let browser: ConsoleBrowser;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-console-scap-'));
    ca = createCa(dir, 'scap-console-ca');
    const serverCert = issueCertificate(dir, ca, 'scap-console-server', 'server');
    clientCert = issueCertificate(dir, ca, 'scap-console-user', 'client');
    cp = await startControlPlane();
    const created = await cp.operator.post('/v1/tenants', { name: 'scap', admin: ADMIN });
    expect(created.status, created.text).toBe(201);
    api = cp.operator.withKey(created.body.apiKey);
    tlsMoto = await startMoto({ tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, caPem: ca.certPem } });
    isob = await setupAwsIdentities(tlsMoto.endpoint, { region: 'us-isob-east-1', namePrefix: 'isob', caPem: ca.certPem });
    iso = await setupAwsIdentities(tlsMoto.endpoint, { region: 'us-iso-east-1', namePrefix: 'iso', caPem: ca.certPem });
    await tlsMoto.enforceAuth();
    portal = await startScapPortal({ server: serverCert, caPem: ca.certPem, issue: (c2s) => roleKeys(c2s ? iso : isob, { endpoint: tlsMoto.endpoint, caPem: ca.certPem }) });
    const token = await api.post('/v1/delegate-tokens', { name: 'scap' });
    delegate = await startDelegate({ id: created.body.id, name: 'scap', api, externalId: '' }, {
      url: cp.grpcUrl,
      token: token.body.token,
      name: 'isob-enclave',
      tags: ['isob'],
      env: {
        AWS_EC2_METADATA_DISABLED: 'true',
        ATTACHE_ALLOW_REFS: `file:${clientCert.keyFile}`,
        ATTACHE_ALLOW_ENDPOINTS: [portal.origin, new URL(tlsMoto.endpoint).origin].join(','),
      },
    });
    browser = await openConsole(cp.httpUrl);
    await signIn(browser.page, ADMIN.email, ADMIN.password);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await delegate?.stop();
    await portal?.close();
    await tlsMoto?.stop();
    await cp?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const accountNamed = async (name: string) => ((await api.get('/v1/aws/accounts?limit=500')).body.items as any[]).find((a) => a.name === name);
  const fullRoleNameHint = (page: Page) => page.getByText(/^Full role name:/);

  /** Step 1 with the partition and the emulator's endpoints; leaves the page on the credentials step with "SCAP / CAP portal" chosen. */
  const startScapAccount = async (page: Page, name: string, partition: string, region: string) => {
    await page.goto('/accounts/new');
    await page.getByLabel('Account name').fill(name);
    await page.getByLabel('Partition').selectOption({ label: partition });
    expect(await page.getByLabel('Test region').inputValue()).toBe(region);
    await page.getByText('Endpoint overrides (optional)').click();
    await page.getByLabel('STS endpoint').fill(tlsMoto.endpoint);
    await page.getByLabel('EC2 endpoint').fill(tlsMoto.endpoint);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('SCAP / CAP portal').check();
  };
  const fillPortal = async (page: Page, portalUrl: string, role: string) => {
    await page.getByLabel('Portal URL').fill(portalUrl);
    await page.getByLabel('Agency', { exact: true }).fill('NAVY');
    await page.getByLabel('Account', { exact: true }).fill('123456789012');
    await page.getByLabel('Role', { exact: true }).fill(role);
    await page.getByLabel('User certificate').fill(clientCert.certPem);
    await page.getByLabel('User key', { exact: true }).fill(`file:${clientCert.keyFile}`);
    await page.getByLabel('CA bundle').fill(ca.certPem);
  };
  const validateToValid = async (page: Page) => {
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Validate' }).click();
    const progress = page.getByRole('region', { name: 'Validation progress' });
    await progress.getByText('✓ Valid').waitFor({ timeout: 30_000 });
    const text = (await progress.textContent()) ?? '';
    expect(text).toContain('On delegate isob-enclave');
    expect(text).toContain('scap:GetTemporaryCredentials');
  };

  it('SC2S: the portal over mutual TLS with the CA, the default PROJECT_ prefix and the live full role name, to Valid', async () => {
    const { page } = browser;
    await startScapAccount(page, 'scap-sc2s', 'AWS Secret Region (SC2S)', 'us-isob-east-1');
    expect(await page.getByLabel('Role prefix').inputValue()).toBe('PROJECT_');
    await fillPortal(page, portal.sc2sUrl, 'DevOpsRole');
    expect(await fullRoleNameHint(page).textContent()).toBe('Full role name: PROJECT_DevOpsRole (18 of 64 characters)');
    // The limit is shown as it is typed: 8 + 57 characters is one too many for IAM.
    await page.getByLabel('Role', { exact: true }).fill('R'.repeat(57));
    expect(await fullRoleNameHint(page).textContent()).toBe(`Full role name: PROJECT_${'R'.repeat(57)} (65 of 64 characters: too long)`);
    await page.getByLabel('Role', { exact: true }).fill('DevOpsRole');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'wizard-scap');
    await page.getByRole('button', { name: 'Next' }).click();
    const before = portal.queries.length;
    await validateToValid(page);
    expect(portal.queries.slice(before)).toEqual([{ agency: 'NAVY', accountName: '123456789012', roleName: 'PROJECT_DevOpsRole' }]);
    expect(await accountNamed('scap-sc2s')).toMatchObject({
      status: 'valid',
      partition: 'aws-iso-b',
      caBundle: ca.certPem,
      auth: { type: 'scap', portalUrl: portal.sc2sUrl, agencyName: 'NAVY', accountName: '123456789012', roleName: 'DevOpsRole', rolePrefix: 'PROJECT_', userKey: `file:${clientCert.keyFile}` },
      awsAccountId: isob.accountId,
    });
  });

  it('C2S: the Top Secret portal style (agency, mission, role) with a permission boundary, to Valid', async () => {
    const { page } = browser;
    await startScapAccount(page, 'scap-c2s', 'AWS Top Secret Region (C2S)', 'us-iso-east-1');
    await fillPortal(page, portal.c2sUrl, 'Ops');
    await page.getByLabel('Permission boundary').fill('arn:aws-iso:iam::123456789012:policy/Boundary');
    expect(await fullRoleNameHint(page).textContent()).toBe('Full role name: PROJECT_Ops (11 of 64 characters)');
    await page.getByRole('button', { name: 'Next' }).click();
    const before = portal.queries.length;
    await validateToValid(page);
    expect(portal.queries.slice(before)).toEqual([{ agency: 'NAVY', mission: '123456789012', role: 'PROJECT_Ops' }]);
    const saved = await accountNamed('scap-c2s');
    expect(saved).toMatchObject({ status: 'valid', partition: 'aws-iso', testRegion: 'us-iso-east-1', awsAccountId: iso.accountId, auth: { permissionBoundaryArn: 'arn:aws-iso:iam::123456789012:policy/Boundary' } });
    expect(saved.arn.startsWith('arn:aws-iso:')).toBe(true);
  });

  it('a role the portal does not know shows SCAP_DENIED with the portal’s sentence', async () => {
    const { page } = browser;
    await startScapAccount(page, 'scap-unknown-role', 'AWS Secret Region (SC2S)', 'us-isob-east-1');
    await fillPortal(page, portal.sc2sUrl, 'Unknown');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Validate' }).click();
    const alert = page.getByRole('region', { name: 'Validation progress' }).getByRole('alert');
    await alert.waitFor({ timeout: 30_000 });
    const text = (await alert.textContent()) ?? '';
    expect(text).toContain('SCAP_DENIED');
    expect(text).toContain('Role PROJECT_Unknown is not provisioned for this account.');
    await alert.getByRole('button', { name: 'Edit credentials' }).waitFor();
  });
});
