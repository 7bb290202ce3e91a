/// <reference lib="dom" />
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../support/api.js';
import { startControlPlane, startDelegate, type ControlPlaneHandle } from '../support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from '../support/moto.js';
import type { Proc } from '../support/process.js';
import { openConsole, seriousViolations, signIn, type ConsoleBrowser } from './chromium.js';

const ADMIN = { email: 'fay@failures.example', name: 'Fay Admin', password: 'failures admin password 1' };

/**
 * Each failure type of a validation as the wizard shows it: the delegate's or the control plane's
 * code, the sentence the API recorded on the account, and for NO_ELIGIBLE_DELEGATE why each
 * connected delegate is not eligible; and a gateway pin that reaches Valid.
 */
describe('the wizard’s failures and the gateway pin, in a browser', () => {
  let cp: ControlPlaneHandle;
  let api: Api;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let delegate: Proc;
  let browser: ConsoleBrowser;

  beforeAll(async () => {
    cp = await startControlPlane();
    const created = await cp.operator.post('/v1/tenants', { name: 'failures', admin: ADMIN });
    expect(created.status, created.text).toBe(201);
    api = cp.operator.withKey(created.body.apiKey);
    const externalId = (await api.get('/v1/aws/external-id')).body.externalId as string;
    moto = await startMoto();
    ids = await setupAwsIdentities(moto.endpoint, { externalId, namePrefix: 'failures' });
    await moto.enforceAuth();
    const token = await api.post('/v1/delegate-tokens', { name: 'dc-west' });
    delegate = await startDelegate({ id: created.body.id, name: 'failures', api, externalId }, {
      url: cp.grpcUrl,
      token: token.body.token,
      name: 'dc-west',
      tags: ['aws'],
      env: {
        ATTACHE_ALLOW_REFS: 'env:GOOD_*,env:NOPERM_*,env:SRC_*',
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ids.validUser.secretAccessKey,
        GOOD_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        NOPERM_ACCESS_KEY_ID: ids.userWithoutDescribeRegions.accessKeyId,
        NOPERM_SECRET: ids.userWithoutDescribeRegions.secretAccessKey,
        SRC_ACCESS_KEY_ID: ids.roleSourceUser.accessKeyId,
        SRC_SECRET: ids.roleSourceUser.secretAccessKey,
      },
    });
    browser = await openConsole(cp.httpUrl);
    await signIn(browser.page, ADMIN.email, ADMIN.password);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await delegate?.stop();
    await moto?.stop();
    await cp?.stop();
  });

  const accountNamed = async (name: string) => ((await api.get('/v1/aws/accounts?limit=500')).body.items as any[]).find((a) => a.name === name);

  /** Runs the wizard to Validate; returns the alert of a failed validation. */
  const validateExpectingFailure = async (page: Page, name: string, credentials: (p: Page) => Promise<void>, placement: (p: Page) => Promise<void>) => {
    await page.goto('/accounts/new');
    await page.getByLabel('Account name').fill(name);
    await page.getByRole('button', { name: 'Next' }).click();
    await credentials(page);
    await page.getByRole('button', { name: 'Next' }).click();
    await placement(page);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Validate' }).click();
    const alert = page.getByRole('region', { name: 'Validation progress' }).getByRole('alert');
    await alert.waitFor({ timeout: 30_000 });
    expect(await alert.getByRole('button', { name: 'Edit credentials' }).count()).toBe(1);
    return alert;
  };
  const tags = (value: string) => async (p: Page) => {
    await p.getByLabel('Only delegates with all of these tags').check();
    await p.getByLabel('Delegate tags').fill(value);
  };
  const expectRecorded = async (alertText: string, name: string, code: string) => {
    expect(alertText).toContain(code);
    const stored = await accountNamed(name);
    expect(stored).toMatchObject({ status: 'invalid', lastError: { code } });
    expect(alertText).toContain(stored.lastError.message);
  };

  it('MISSING_PERMISSION: the user may not call ec2:DescribeRegions', async () => {
    const { page } = browser;
    const alert = await validateExpectingFailure(page, 'no-permission', async (p) => {
      await p.getByLabel('Access key ID', { exact: true }).fill('env:NOPERM_ACCESS_KEY_ID');
      await p.getByLabel('Secret access key', { exact: true }).fill('env:NOPERM_SECRET');
    }, tags('aws'));
    await expectRecorded((await alert.textContent()) ?? '', 'no-permission', 'MISSING_PERMISSION');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('SECRET_UNRESOLVED: the reference names a variable the delegate does not have', async () => {
    const { page } = browser;
    const alert = await validateExpectingFailure(page, 'unresolved', async (p) => {
      await p.getByLabel('Access key ID', { exact: true }).fill('env:GOOD_ACCESS_KEY_ID');
      await p.getByLabel('Secret access key', { exact: true }).fill('env:GOOD_SECRET_NOT_SET');
    }, tags('aws'));
    await expectRecorded((await alert.textContent()) ?? '', 'unresolved', 'SECRET_UNRESOLVED');
  });

  it('ASSUME_ROLE_DENIED: an external ID the role does not trust', async () => {
    const { page } = browser;
    const alert = await validateExpectingFailure(page, 'wrong-external-id', async (p) => {
      await p.getByLabel('Assume role (STS)').check();
      await p.getByLabel('Role ARN').fill(ids.role.roleArn);
      await p.getByLabel('External ID').fill('not-the-tenants-external-id');
      await p.getByLabel('Source credentials').selectOption('static');
      await p.getByLabel('Access key ID', { exact: true }).fill('env:SRC_ACCESS_KEY_ID');
      await p.getByLabel('Secret access key', { exact: true }).fill('env:SRC_SECRET');
    }, tags('aws'));
    await expectRecorded((await alert.textContent()) ?? '', 'wrong-external-id', 'ASSUME_ROLE_DENIED');
  });

  it('NO_ELIGIBLE_DELEGATE: the tags no delegate carries, with why each connected delegate is not eligible', async () => {
    const { page } = browser;
    const alert = await validateExpectingFailure(page, 'nowhere', async (p) => p.getByLabel("Delegate's own credentials").check(), tags('gov-east'));
    await expectRecorded((await alert.textContent()) ?? '', 'nowhere', 'NO_ELIGIBLE_DELEGATE');
    expect(await alert.getByRole('list', { name: 'Why no delegate is eligible' }).textContent()).toContain('dc-west: missing tags: gov-east');
  });

  it('a gateway pin: "Connect Private Cloud Gateway" lists the gateways, and the pinned account validates on it', async () => {
    const { page } = browser;
    await page.goto('/accounts/new');
    await page.getByLabel('Account name').fill('pinned');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel("Delegate's own credentials").check();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Connect Private Cloud Gateway').check();
    const gateway = page.getByLabel('Gateway', { exact: true });
    await expect.poll(async () => gateway.locator('option').allTextContents()).toEqual(['dc-west (1 connected)']);
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Validate' }).click();
    const progress = page.getByRole('region', { name: 'Validation progress' });
    await progress.getByText('✓ Valid').waitFor({ timeout: 30_000 });
    expect(await progress.textContent()).toContain('On delegate dc-west');
    expect(await accountNamed('pinned')).toMatchObject({ status: 'valid', gateway: 'dc-west', delegateSelectors: [], arn: ids.validUser.arn });
  });
});
