/// <reference lib="dom" />
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type ControlPlaneHandle } from '../support/cluster.js';
import { startOidcProvider, type OidcProvider } from '../support/oidc.js';
import { freePort } from '../support/ports.js';
import { openConsole, seriousViolations, type ConsoleBrowser } from './chromium.js';

const SECRET = 'attache-console-sso-secret';

/**
 * "Sign in with SSO" is offered only for a tenant that has an OIDC provider: the sign-in page asks
 * the public GET /v1/session/providers, which answers an unknown tenant exactly like a tenant
 * without a provider. The button leads to the tenant's real provider (`oidc-provider`).
 */
describe('the sign-in page offers SSO only where a provider is set', () => {
  let cp: ControlPlaneHandle;
  let idp: OidcProvider;
  let browser: ConsoleBrowser;

  beforeAll(async () => {
    const port = await freePort();
    const publicUrl = `http://127.0.0.1:${port}`;
    idp = await startOidcProvider({
      clients: [{ client_id: 'attache', client_secret: SECRET, redirect_uris: [`${publicUrl}/v1/session/oidc/callback`] }],
      accounts: { ann: { email: 'ann@sso.example', email_verified: true, name: 'Ann', groups: ['attache-admins'] } },
    });
    cp = await startControlPlane({ ATTACHE_PUBLIC_URL: publicUrl, ATTACHE_OIDC_INSECURE_ISSUERS: idp.issuer }, { httpPort: port });
    for (const name of ['with-sso', 'password-only']) {
      const res = await cp.operator.post('/v1/tenants', { name, admin: { email: `root@${name}.example`, name: 'Root', password: `${name} root password 1` } });
      expect(res.status, res.text).toBe(201);
      if (name === 'with-sso') {
        const put = await cp.operator.withKey(res.body.apiKey).request('PUT', '/v1/oidc', {
          issuer: idp.issuer,
          clientId: 'attache',
          clientSecret: SECRET,
          allowedEmailDomains: ['sso.example'],
          roleMapping: { 'attache-admins': 'admin' },
        });
        expect(put.status, put.text).toBe(200);
      }
    }
    browser = await openConsole(cp.httpUrl);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await cp?.stop();
    await idp?.stop();
  });

  it('answers {password: true, oidc} without credentials, the same for an unknown tenant as for one without a provider', async () => {
    const ask = async (query: string) => {
      const res = await fetch(`${cp.httpUrl}/v1/session/providers${query}`);
      expect(res.status).toBe(200);
      return res.json();
    };
    expect(await ask('?tenant=with-sso')).toEqual({ password: true, oidc: true });
    const without = await ask('?tenant=password-only');
    expect(without).toEqual({ password: true, oidc: false });
    expect(await ask('?tenant=no-such-tenant')).toEqual(without);
    expect(await ask('')).toEqual(without);
    // A suspended tenant's people cannot sign in at all: no SSO offered, as for an unknown tenant.
    const tenantId = ((await cp.operator.get('/v1/tenants')).body.items as any[]).find((t) => t.name === 'with-sso').id;
    expect((await cp.operator.post(`/v1/tenants/${tenantId}/suspend`)).status).toBe(200);
    expect(await ask('?tenant=with-sso')).toEqual(without);
    expect((await cp.operator.post(`/v1/tenants/${tenantId}/resume`)).status).toBe(200);
    expect(await ask('?tenant=with-sso')).toEqual({ password: true, oidc: true });
    const bad = await fetch(`${cp.httpUrl}/v1/session/providers?tenant=x&other=1`);
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('VALIDATION_FAILED');
  });

  /** Types the tenant and waits for the page's own question about it to be answered. */
  const typeTenant = async (page: Page, tenant: string) => {
    const answered = page.waitForResponse((r) => r.url().includes(`/v1/session/providers?tenant=${tenant}`));
    await page.getByLabel('Tenant').fill(tenant);
    return (await answered).json();
  };

  it('shows "Sign in with SSO" only for the tenant with a provider, and the button reaches its provider', async () => {
    const { page } = browser;
    await page.goto('/');
    await page.getByLabel('Email').waitFor();
    const sso = page.getByRole('link', { name: 'Sign in with SSO' });
    expect(await sso.count()).toBe(0);

    expect(await typeTenant(page, 'password-only')).toEqual({ password: true, oidc: false });
    expect(await sso.count()).toBe(0);
    expect(await typeTenant(page, 'no-such-tenant')).toEqual({ password: true, oidc: false });
    expect(await sso.count()).toBe(0);

    expect(await typeTenant(page, 'with-sso')).toEqual({ password: true, oidc: true });
    await sso.waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await sso.click();
    await page.waitForURL((url) => url.origin === idp.issuer && /\/interaction\/[^/]+$/.test(url.pathname));
  });
});
