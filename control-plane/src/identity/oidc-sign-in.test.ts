import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { AppError } from '../errors.js';
import { SecretBox } from '../security/secret-box.js';
import { hashSecret } from '../security/secrets.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { LoginThrottle } from './login-throttle.js';
import { OidcConfigService } from './oidc-config-service.js';
import { OidcProviderClient } from './oidc-provider-client.js';
import { OidcSignIn } from './oidc-sign-in.js';
import { PasswordHasher } from './password-hasher.js';
import { SessionService } from './session-service.js';
import { UserService } from './user-service.js';

/**
 * The state checks of the callback that need no provider: they come before any request to it.
 * (The whole flow, against a real provider, is e2e/src/oidc.test.ts.)
 */
describe('OidcSignIn.finish: the sign-in in progress', () => {
  let store: SqliteStore;
  let signIn: OidcSignIn;
  const tenantId = 'ten_oidc';

  beforeEach(async () => {
    store = SqliteStore.open({ path: ':memory:' });
    await store.migrate();
    await store.createTenant({ id: tenantId, name: 'oidc', externalId: 'x', createdAt: new Date() }, { id: 'key_o', tenantId, hash: 'h-o', createdAt: new Date() });
    const hasher = new PasswordHasher({ ln: 10, r: 8, p: 1 });
    const provider = new OidcProviderClient([]);
    signIn = new OidcSignIn({
      store,
      configs: new OidcConfigService(store.oidc, await SecretBox.load('/nonexistent', 'k'.repeat(32)), provider),
      provider,
      users: new UserService(store.identity, hasher),
      sessions: new SessionService(store.identity, hasher, new LoginThrottle(store.identity), { idleMs: 60_000, absoluteMs: 3_600_000 }),
      publicUrl: 'https://attache.example',
      loginTtlMs: 600_000,
      log: pino({ level: 'silent' }),
    });
  });
  afterEach(async () => store.close());

  async function login(state: string, browser: string, expiresInMs: number): Promise<void> {
    const now = Date.now();
    await store.oidc.createOidcLogin({
      stateHash: hashSecret(state),
      tenantId,
      browserHash: hashSecret(browser),
      nonce: 'n',
      codeVerifier: 'v',
      returnTo: '/',
      createdAt: new Date(now),
      expiresAt: new Date(now + expiresInMs),
    });
  }

  async function reason(query: string, browser: string | undefined): Promise<unknown> {
    try {
      await signIn.finish(new URLSearchParams(query), browser);
    } catch (err) {
      if (err instanceof AppError && err.code === 'OIDC_STATE_INVALID') return err.details['reason'];
      throw err;
    }
    throw new Error('finish did not refuse');
  }

  it('refuses a missing, unknown or expired state, and one started in another browser, each once', async () => {
    expect(await reason('code=c', 'b')).toBe('missing');
    expect(await reason('code=c&state=never-issued', 'b')).toBe('unknown-or-used');
    await login('stale', 'b', -1);
    expect(await reason('code=c&state=stale', 'b')).toBe('expired');
    await login('elsewhere', 'browser-a', 60_000);
    expect(await reason('code=c&state=elsewhere', 'browser-b')).toBe('other-browser');
    // Taken by the failed attempt: the right browser cannot use it afterwards either.
    expect(await reason('code=c&state=elsewhere', 'browser-a')).toBe('unknown-or-used');
    await login('cookieless', 'b', 60_000);
    expect(await reason('code=c&state=cookieless', undefined)).toBe('other-browser');
  });

  it('names the callback from ATTACHE_PUBLIC_URL', () => {
    expect(signIn.redirectUri()).toBe('https://attache.example/v1/session/oidc/callback');
  });
});
