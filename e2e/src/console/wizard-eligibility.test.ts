/// <reference lib="dom" />
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Api } from '../support/api.js';
import { spawnDelegate, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from '../support/cluster.js';
import type { Proc } from '../support/process.js';
import { openConsole, screenshot, seriousViolations, signIn, type ConsoleBrowser } from './chromium.js';

const ADMIN = { email: 'eli@eligibility.example', name: 'Eli Admin', password: 'eligibility admin password 1' };

/**
 * The wizard's "Delegates" step counts the connected delegates that could run the validation, by
 * the control plane's rule (GET /v1/delegates/eligibility), and updates the count from presence
 * events as delegates connect and leave; when none is eligible it lists why each is not.
 */
describe('eligible delegates in the wizard, live', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let admin: Api;
  let viewer: Api;
  let east: Proc;
  let west: Proc | undefined;
  let browser: ConsoleBrowser;

  beforeAll(async () => {
    cp = await startControlPlane();
    const created = await cp.operator.post('/v1/tenants', { name: 'eligibility', admin: ADMIN });
    expect(created.status, created.text).toBe(201);
    admin = cp.operator.withKey(created.body.apiKey);
    tenant = { id: created.body.id, name: 'eligibility', api: admin, externalId: '' };
    const key = await admin.post('/v1/api-keys', { name: 'reader', role: 'viewer' });
    expect(key.status, key.text).toBe(201);
    viewer = cp.operator.withKey(key.body.apiKey);
    const token = await admin.post('/v1/delegate-tokens', { name: 'eligibility' });
    east = await startDelegate(tenant, { url: cp.grpcUrl, token: token.body.token, name: 'east', tags: ['aws'] });
    browser = await openConsole(cp.httpUrl);
    await signIn(browser.page, ADMIN.email, ADMIN.password);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await west?.stop();
    await east?.stop();
    await cp?.stop();
  });

  const status = (page: Page) => page.getByRole('region', { name: 'Eligible delegates' }).getByRole('status');
  const eligibilityCalls = () => browser.requests.filter((r) => new URL(r.url()).pathname === '/v1/delegates/eligibility').length;

  it('the API answers a viewer with the count and each delegate’s reasons, and refuses a malformed tag with its rule', async () => {
    const any = await viewer.get('/v1/delegates/eligibility');
    expect(any.status, any.text).toBe(200);
    expect(any.body).toMatchObject({ taskType: 'aws.validate', selectors: [], eligible: 1, delegates: [{ name: 'east', eligible: true, reasons: [] }] });
    const missing = await viewer.get('/v1/delegates/eligibility?tags=aws,vpc-west');
    expect(missing.body).toMatchObject({ selectors: ['aws', 'vpc-west'], eligible: 0, delegates: [{ name: 'east', eligible: false, reasons: ['missing tags: vpc-west'] }] });
    const typed = await viewer.get('/v1/delegates/eligibility?taskType=aws.unknownThing');
    expect(typed.body.delegates[0].reasons).toEqual(['task type "aws.unknownThing" not supported']);
    const bad = await viewer.get('/v1/delegates/eligibility?tags=Not%20A%20Tag');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(bad.body.error.message).toContain('tags');
  });

  it('step 3 shows "N eligible delegates", why none is when none is, and follows delegates connecting and leaving', async () => {
    const { page, requests } = browser;
    await page.goto('/accounts/new');
    await page.getByLabel('Account name').fill('placement');
    await page.getByRole('button', { name: 'Next' }).click();
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(() => status(page).textContent()).toBe('1 eligible delegate');

    await page.getByLabel('Only delegates with all of these tags').check();
    await page.getByLabel('Delegate tags').fill('aws, vpc-west');
    await expect.poll(() => status(page).textContent()).toBe('0 eligible delegates');
    const why = page.getByRole('list', { name: 'Why no delegate is eligible' });
    expect(await why.textContent()).toBe('east: missing tags: vpc-west');
    expect(await seriousViolations(page)).toEqual([]);
    await screenshot(page, 'wizard-delegates');

    // The page listens to presence on the event stream, and does not poll while it is open.
    await expect.poll(() => requests.some((r) => r.url().includes('/v1/events?') && new URL(r.url()).searchParams.get('types') === 'delegate.presence')).toBe(true);
    const before = eligibilityCalls();
    await page.waitForTimeout(2_500);
    expect(eligibilityCalls() - before, 'no polling while the stream is open').toBeLessThanOrEqual(1);

    const token = await admin.post('/v1/delegate-tokens', { name: 'west' });
    west = spawnDelegate({ url: cp.grpcUrl, token: token.body.token, name: 'west', tags: ['aws', 'vpc-west'] });
    await expect.poll(() => status(page).textContent(), { timeout: 20_000 }).toBe('1 eligible delegate');
    expect(await why.count()).toBe(0);

    await page.getByLabel('Connect Private Cloud Gateway').check();
    await page.getByLabel('Gateway', { exact: true }).selectOption('west');
    await expect.poll(() => status(page).textContent()).toBe('1 eligible delegate');
    await page.getByLabel('Gateway', { exact: true }).selectOption('east');
    await expect.poll(() => status(page).textContent()).toBe('1 eligible delegate');

    await page.getByLabel('Only delegates with all of these tags').check();
    await page.getByLabel('Delegate tags').fill('vpc-west');
    await expect.poll(() => status(page).textContent()).toBe('1 eligible delegate');
    await west.stop();
    west = undefined;
    await expect.poll(() => status(page).textContent(), { timeout: 20_000 }).toBe('0 eligible delegates');
    expect(await why.textContent()).toBe('east: missing tags: vpc-west');
  });
});
