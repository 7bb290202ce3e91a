/// <reference lib="dom" />
import { AttachUserPolicyCommand, CreateAccessKeyCommand, CreatePolicyCommand, CreateUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../support/api.js';
import { startControlPlane, startDelegate, type ControlPlaneHandle } from '../support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from '../support/moto.js';
import type { Proc } from '../support/process.js';
import { openConsole, screenshot, seriousViolations, signIn, type ConsoleBrowser } from './chromium.js';

const ADMIN = { email: 'ada@console.example', name: 'Ada Admin', password: 'console admin password 1' };
const VIEWER = { email: 'vic@console.example', name: 'Vic Viewer', password: 'console viewer password 1' };
const POLICY_PATH = '/console/';

/**
 * The console in Debian's Chromium against a real control plane, a real delegate (with a group key
 * for sealed values) and moto_server with authentication enforced: each path of the "Add AWS
 * account" wizard to its verdict, the IAM policy choice, tokens, the live task list, and what a
 * viewer may not do. Every page is scanned with axe-core, and the main ones are photographed into
 * docs/console/.
 */
describe('the console in a browser', () => {
  let cp: ControlPlaneHandle;
  let api: Api;
  let tenantId: string;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let lister: { accessKeyId: string; secretAccessKey: string };
  let delegate: Proc;
  let stateDir: string;
  let admin: ConsoleBrowser;

  beforeAll(async () => {
    cp = await startControlPlane();
    const created = await cp.operator.post('/v1/tenants', { name: 'console', admin: ADMIN });
    expect(created.status, created.text).toBe(201);
    api = cp.operator.withKey(created.body.apiKey);
    tenantId = created.body.id;
    const externalId = (await api.get('/v1/aws/external-id')).body.externalId as string;
    expect((await api.post('/v1/users', { email: VIEWER.email, name: VIEWER.name, role: 'viewer', password: VIEWER.password })).status).toBe(201);

    moto = await startMoto();
    ids = await setupAwsIdentities(moto.endpoint, { externalId, namePrefix: 'console' });
    // Before enforcement moto accepts any signature: a user that may list policies, and a few to list.
    const iam = new IAMClient({ region: 'us-east-1', endpoint: moto.endpoint, credentials: { accessKeyId: 'AKIASETUPONLY0000000', secretAccessKey: 'setup-only' } });
    try {
      await iam.send(new CreateUserCommand({ UserName: 'console-lister' }));
      const policy = await iam.send(
        new CreatePolicyCommand({
          PolicyName: 'console-lister-policy',
          PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['sts:GetCallerIdentity', 'ec2:DescribeRegions', 'iam:ListPolicies'], Resource: '*' }] }),
        }),
      );
      await iam.send(new AttachUserPolicyCommand({ UserName: 'console-lister', PolicyArn: policy.Policy!.Arn! }));
      const key = await iam.send(new CreateAccessKeyCommand({ UserName: 'console-lister' }));
      lister = { accessKeyId: key.AccessKey!.AccessKeyId!, secretAccessKey: key.AccessKey!.SecretAccessKey! };
      for (const name of ['console-read-only', 'console-billing', 'console-network']) {
        await iam.send(new CreatePolicyCommand({ PolicyName: name, Path: POLICY_PATH, PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' }] }) }));
      }
    } finally {
      iam.destroy();
    }
    await moto.enforceAuth();

    stateDir = await mkdtemp(join(tmpdir(), 'attache-console-delegate-'));
    const token = await api.post('/v1/delegate-tokens', { name: 'vpc-east' });
    delegate = await startDelegate({ id: tenantId, name: 'console', api, externalId }, {
      url: cp.grpcUrl,
      token: token.body.token,
      name: 'vpc-east',
      tags: ['aws'],
      env: {
        // Its state dir holds the group key that the browser seals to.
        ATTACHE_STATE_DIR: stateDir,
        ATTACHE_ALLOW_REFS: 'env:GOOD_*,env:WRONG_*,env:SRC_*,env:LISTER_*',
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ids.validUser.secretAccessKey,
        GOOD_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        GOOD_SECRET: ids.validUser.secretAccessKey,
        WRONG_SECRET: `${ids.validUser.secretAccessKey.slice(0, -4)}XXXX`,
        SRC_ACCESS_KEY_ID: ids.roleSourceUser.accessKeyId,
        SRC_SECRET: ids.roleSourceUser.secretAccessKey,
        LISTER_ACCESS_KEY_ID: lister.accessKeyId,
        LISTER_SECRET: lister.secretAccessKey,
      },
    });
    admin = await openConsole(cp.httpUrl);
  }, 180_000);

  afterAll(async () => {
    await admin?.close();
    await delegate?.stop();
    await moto?.stop();
    await cp?.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  const expectAccessible = async (page: Page, what: string) => {
    expect(await seriousViolations(page), what).toEqual([]);
  };

  /** Steps 1-3 of the wizard; leaves the page on step 4 with the Validate button. */
  const fillWizard = async (page: Page, name: string, credentials: (page: Page) => Promise<void>) => {
    await page.goto('/accounts');
    await page.getByRole('link', { name: 'Add AWS account' }).click();
    await page.getByLabel('Account name').fill(name);
    await page.getByLabel('Description').fill(`${name}, added in the console test`);
    await page.getByRole('button', { name: 'Next' }).click();
    await credentials(page);
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByLabel('Only delegates with all of these tags').check();
    await page.getByLabel('Delegate tags').fill('aws');
    await page.getByRole('button', { name: 'Next' }).click();
  };
  const byReference = (accessKeyId: string, secret: string) => async (page: Page) => {
    await page.getByLabel('Access key ID', { exact: true }).fill(accessKeyId);
    await page.getByLabel('Secret access key', { exact: true }).fill(secret);
  };
  const expectValid = async (page: Page) => {
    const progress = page.getByRole('region', { name: 'Validation progress' });
    await progress.getByText('On delegate vpc-east').waitFor({ timeout: 30_000 });
    await progress.getByText('✓ Valid').waitFor({ timeout: 30_000 });
    await expect.poll(() => progress.textContent()).toContain(ids.accountId);
    const text = (await progress.textContent()) ?? '';
    expect(text).toContain('sts:GetCallerIdentity');
    expect(text).toContain('ec2:DescribeRegions');
  };
  const accountNamed = async (name: string) => {
    const list = await api.get('/v1/aws/accounts?limit=500');
    return (list.body.items as any[]).find((a) => a.name === name);
  };

  it('signs in with "Email" and "Password", shows the user and the role, and the accounts page passes axe', async () => {
    const { page } = admin;
    await page.goto('/');
    await expectAccessible(page, 'sign-in page');
    await screenshot(page, 'sign-in');
    await signIn(page, ADMIN.email, ADMIN.password);
    const header = page.getByRole('region', { name: 'Signed in' });
    await expect.poll(() => header.textContent()).toContain(ADMIN.name);
    expect(await page.getByTestId('role').textContent()).toBe('admin');
    for (const link of ['Cloud accounts', 'Delegates', 'Gateways', 'Tokens', 'Tasks', 'Audit', 'Users', 'API keys']) {
      await expect.poll(() => page.getByRole('link', { name: link, exact: true }).count(), { message: link }).toBe(1);
    }
    await expectAccessible(page, 'accounts page');
  });

  it('static keys by reference: the wizard shows the progress on the delegate, then Valid with the account ID; the IAM policies are chosen and Confirm saves', async () => {
    const { page } = admin;
    await fillWizard(page, 'lister-by-ref', async (p) => {
      expect(await p.getByLabel('Static access keys').isChecked()).toBe(true);
      await byReference('env:LISTER_ACCESS_KEY_ID', 'env:LISTER_SECRET')(p);
      await expectAccessible(p, 'wizard credentials step');
    });
    await page.getByRole('button', { name: 'Validate' }).click();
    await expectValid(page);
    await expectAccessible(page, 'wizard validated');
    await screenshot(page, 'wizard-valid');

    await page.getByRole('switch', { name: 'Add IAM policies' }).click();
    const list = page.getByRole('list', { name: 'IAM policies' });
    await list.getByText('console-billing').waitFor({ timeout: 60_000 });
    await page.getByLabel('Search policies').fill('console-net');
    await expect.poll(() => list.getByRole('checkbox').count()).toBe(1);
    await list.getByLabel(/console-network/).check();
    await expectAccessible(page, 'wizard policies');
    await screenshot(page, 'wizard-policies');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('heading', { name: 'lister-by-ref' }).waitFor();

    const saved = await accountNamed('lister-by-ref');
    expect(saved).toMatchObject({ status: 'valid', awsAccountId: ids.accountId, delegateSelectors: ['aws'], auth: { type: 'static', accessKeyId: 'env:LISTER_ACCESS_KEY_ID', secretAccessKey: 'env:LISTER_SECRET' } });
    expect(saved.policyArns).toEqual([`arn:aws:iam::${ids.accountId}:policy${POLICY_PATH}console-network`]);
    await expect.poll(() => page.getByText('console-network').count()).toBeGreaterThan(0);
    await expectAccessible(page, 'account detail');
    await screenshot(page, 'account-detail');
  });

  it('"Seal in this browser": the secret is sealed in the page to the group key, and never leaves the browser in clear', async () => {
    const { page, requests } = admin;
    const from = requests.length;
    await fillWizard(page, 'sealed-in-browser', async (p) => {
      await p.getByLabel('Access key ID', { exact: true }).fill('env:GOOD_ACCESS_KEY_ID');
      await p.getByRole('group', { name: 'Secret access key source' }).getByLabel('Seal in this browser').check();
      await p.getByLabel('Secret access key', { exact: true }).fill(ids.validUser.secretAccessKey);
    });
    await page.getByText('Secrets are sealed to delegate group vpc-east').waitFor();
    await page.getByRole('button', { name: 'Validate' }).click();
    await expectValid(page);

    const sent = requests.slice(from);
    const created = sent.find((r) => r.method() === 'POST' && new URL(r.url()).pathname === '/v1/aws/accounts');
    expect(created, 'the wizard created the account').toBeDefined();
    const body = JSON.parse(created!.postData() ?? '{}');
    expect(body.auth.secretAccessKey).toMatch(/^sealed:v1:[0-9a-f]{16}:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/);
    // Not in any request: bodies, URLs or headers, in clear or in the usual encodings.
    const secret = ids.validUser.secretAccessKey;
    const forms = [secret, encodeURIComponent(secret), Buffer.from(secret).toString('base64'), Buffer.from(secret).toString('base64url')];
    for (const r of sent) {
      const seen = `${r.url()}\n${JSON.stringify(await r.allHeaders())}\n${r.postData() ?? ''}`;
      for (const form of forms) expect(seen.includes(form), `${r.method()} ${r.url()}`).toBe(false);
    }
    const saved = await accountNamed('sealed-in-browser');
    expect(saved).toMatchObject({ id: body.id, status: 'valid', awsAccountId: ids.accountId });
    expect(saved.auth.secretAccessKey).toBe(body.auth.secretAccessKey);
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.getByRole('heading', { name: 'sealed-in-browser' }).waitFor();
  });

  it('a wrong secret shows INVALID_CREDENTIALS with its sentence; "Edit credentials" goes back and the corrected account is valid', async () => {
    const { page } = admin;
    await fillWizard(page, 'wrong-then-right', byReference('env:GOOD_ACCESS_KEY_ID', 'env:WRONG_SECRET'));
    await page.getByRole('button', { name: 'Validate' }).click();
    const alert = page.getByRole('region', { name: 'Validation progress' }).getByRole('alert');
    await alert.waitFor({ timeout: 30_000 });
    const text = (await alert.textContent()) ?? '';
    expect(text).toContain('INVALID_CREDENTIALS');
    const stored = await accountNamed('wrong-then-right');
    expect(stored.status).toBe('invalid');
    expect(text).toContain(stored.lastError.message);
    await expectAccessible(page, 'wizard invalid');
    await screenshot(page, 'wizard-invalid');

    await alert.getByRole('button', { name: 'Edit credentials' }).click();
    await page.getByLabel('Secret access key', { exact: true }).fill('env:GOOD_SECRET');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Validate' }).click();
    await expectValid(page);
    const fixed = await accountNamed('wrong-then-right');
    expect(fixed).toMatchObject({ id: stored.id, status: 'valid', auth: { secretAccessKey: 'env:GOOD_SECRET' } });
  });

  it('Assume role (STS) with the tenant’s external ID, and the delegate’s own credentials, both reach Valid', async () => {
    const { page } = admin;
    await fillWizard(page, 'sts-role', async (p) => {
      await p.getByLabel('Assume role (STS)').check();
      await p.getByLabel('Role ARN').fill(ids.role.roleArn);
      // The external ID is left empty: the tenant's own, which the role's trust policy requires.
      const panel = p.getByRole('complementary', { name: 'Role setup' });
      await panel.getByText(ids.role.externalId).first().waitFor();
      // The template download is the API's own CloudFormation, with the tenant's external ID as the default.
      const link = panel.getByRole('link', { name: 'Download the CloudFormation template' });
      const href = new URL((await link.getAttribute('href'))!, cp.httpUrl);
      expect(href.pathname).toBe('/v1/aws/role-setup');
      expect(href.searchParams.get('format')).toBe('cloudformation');
      const [download] = await Promise.all([p.waitForEvent('download'), link.click()]);
      expect(download.suggestedFilename()).toBe('attache-validation-role.yaml');
      const template = await readFile((await download.path())!, 'utf8');
      const served = await api.get(`${href.pathname}${href.search}`);
      expect(served.status).toBe(200);
      expect(template).toBe(served.text);
      expect(template).toContain('AWS::IAM::Role');
      expect(template).toContain(ids.role.externalId);
      await p.getByLabel('Source credentials').selectOption('static');
      await byReference('env:SRC_ACCESS_KEY_ID', 'env:SRC_SECRET')(p);
      await expectAccessible(p, 'wizard STS');
      await screenshot(p, 'wizard-sts');
    });
    await page.getByRole('button', { name: 'Validate' }).click();
    await expectValid(page);
    expect(await accountNamed('sts-role')).toMatchObject({ status: 'valid', arn: expect.stringContaining(ids.role.roleName) });

    await fillWizard(page, 'delegate-chain', async (p) => {
      await p.getByLabel("Delegate's own credentials").check();
    });
    await page.getByRole('button', { name: 'Validate' }).click();
    await expectValid(page);
    expect(await accountNamed('delegate-chain')).toMatchObject({ status: 'valid', arn: ids.validUser.arn });
  });

  it('Tokens: created and shown once with install commands, listed, revoked', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Tokens', exact: true }).click();
    await page.getByLabel('Token name').fill('edge-1');
    await page.getByRole('button', { name: 'Create token' }).click();
    const token = (await page.getByTestId('new-token').textContent())!;
    expect(token.length).toBeGreaterThan(20);
    for (const target of ['Docker', 'Helm', 'systemd']) expect(await page.getByLabel(`${target} install`).textContent()).toContain(token);
    const row = page.getByRole('row').filter({ hasText: 'edge-1' });
    await row.getByText('active').waitFor();
    await expectAccessible(page, 'tokens');
    await screenshot(page, 'tokens');
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('revoked').waitFor();
    const listed = (await api.get('/v1/delegate-tokens')).body.items.find((t: any) => t.name === 'edge-1');
    expect(listed.status).toBe('revoked');
  });

  it('the task list updates without a reload as a task is queued, runs and succeeds', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Tasks', exact: true }).click();
    await page.getByRole('table', { name: 'Tasks' }).waitFor();
    const created = await api.post('/v1/tasks', { type: 'echo', payload: { message: 'hello from the console test' }, selectors: ['aws'] });
    expect(created.status, created.text).toBe(201);
    const row = page.getByRole('row').filter({ hasText: created.body.id });
    await row.getByText('succeeded').waitFor({ timeout: 20_000 });
    expect(await row.textContent()).toContain('vpc-east');
    await expectAccessible(page, 'tasks');
    await screenshot(page, 'tasks');
    for (const [link, name] of [['Delegates', 'delegates'], ['Gateways', 'gateways'], ['Audit', 'audit'], ['Users', 'users'], ['API keys', 'api-keys']] as const) {
      await page.getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { name: link }).waitFor();
      await page.waitForLoadState('networkidle');
      await expectAccessible(page, link);
      if (name === 'delegates') {
        await page.getByRole('cell', { name: 'vpc-east' }).first().waitFor();
        await screenshot(page, name);
      }
    }
    expect(admin.cspViolations).toEqual([]);
  });

  it('Users and API keys (admins): a user is added; an API key is shown once, listed and revoked', async () => {
    const { page } = admin;
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByLabel('User email').fill('eve@console.example');
    await page.getByLabel('User name').fill('Eve Editor');
    await page.getByLabel('Role').selectOption('editor');
    await page.getByLabel('Initial password').fill('console editor password 1');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('row').filter({ hasText: 'eve@console.example' }).getByRole('cell', { name: 'editor', exact: true }).waitFor();
    const users = (await api.get('/v1/users')).body.items as any[];
    expect(users.find((u) => u.email === 'eve@console.example')).toMatchObject({ name: 'Eve Editor', role: 'editor', hasPassword: true });

    await page.getByRole('link', { name: 'API keys', exact: true }).click();
    await page.getByLabel('Key name').fill('ci-reader');
    await page.getByRole('button', { name: 'Create API key' }).click();
    const key = (await page.getByTestId('new-api-key').textContent())!;
    const row = page.getByRole('row').filter({ hasText: 'ci-reader' });
    await row.getByText('active').waitFor();
    // The key shown works, as a viewer, until it is revoked.
    expect((await cp.operator.withKey(key).get('/v1/aws/accounts')).status).toBe(200);
    await row.getByRole('button', { name: 'Revoke' }).click();
    await row.getByText('revoked').waitFor();
    expect((await cp.operator.withKey(key).get('/v1/aws/accounts')).status).toBe(401);
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('a viewer sees the accounts but no "Add AWS account", no admin pages and no account actions', async () => {
    const viewer = await openConsole(cp.httpUrl, { width: 390, height: 844 });
    try {
      const { page } = viewer;
      // Keyboard only: Tab to "Email", type, Tab to "Password", type, Enter.
      await page.goto('/');
      await page.getByLabel('Email').waitFor();
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.getAttribute('type'))).toBe('email');
      await page.keyboard.type(VIEWER.email);
      await page.keyboard.press('Tab');
      await page.keyboard.type(VIEWER.password);
      await page.keyboard.press('Enter');
      await page.getByRole('button', { name: 'Sign out' }).waitFor();
      expect(await page.getByTestId('role').textContent()).toBe('viewer');
      await page.getByRole('link', { name: 'sts-role' }).waitFor();
      expect(await page.getByRole('link', { name: 'Add AWS account' }).count()).toBe(0);
      for (const link of ['Tokens', 'Audit', 'Users', 'API keys']) expect(await page.getByRole('link', { name: link, exact: true }).count(), link).toBe(0);
      await expectAccessible(page, 'accounts as viewer, narrow screen');
      await screenshot(page, 'accounts-viewer-narrow');
      // Keyboard only: Tab to the account's link and open it with Enter.
      for (let i = 0; i < 40 && (await page.evaluate(() => document.activeElement?.textContent)) !== 'sts-role'; i++) await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('sts-role');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'sts-role' }).waitFor();
      for (const action of ['Re-validate', 'Edit', 'Delete']) expect(await page.getByRole('button', { name: action }).count(), action).toBe(0);
      // The wizard's address does not help: the API refuses the viewer's write anyway.
      const refused = await page.evaluate(async () => {
        const csrf = document.cookie.split('; ').find((c) => c.startsWith('attache_csrf='))?.split('=')[1] ?? '';
        const res = await fetch('/v1/aws/accounts', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ name: 'x', auth: { type: 'delegate' } }) });
        return { status: res.status, body: await res.json() };
      });
      expect(refused).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
    } finally {
      await viewer.close();
    }
    // The admin's accounts list, for the README.
    await admin.page.getByRole('link', { name: 'Cloud accounts', exact: true }).click();
    await admin.page.getByRole('link', { name: 'sealed-in-browser' }).waitFor();
    await screenshot(admin.page, 'accounts');
  });
});
