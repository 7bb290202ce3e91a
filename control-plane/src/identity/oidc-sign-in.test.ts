import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import pino from 'pino';
import { AppError } from '../errors.js';
import { SecretBox } from '../security/secret-box.js';
import { hashSecret } from '../security/secrets.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { CliSignIn } from './cli-sign-in.js';
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
    const sessions = new SessionService(store.identity, hasher, new LoginThrottle(store.identity), { idleMs: 60_000, absoluteMs: 3_600_000 });
    signIn = new OidcSignIn({
      store,
      configs: new OidcConfigService(store.oidc, await SecretBox.load('/nonexistent', 'k'.repeat(32)), provider),
      provider,
      users: new UserService(store.identity, hasher),
      sessions,
      cli: new CliSignIn({ store, sessions, codeTtlMs: 60_000 }),
      publicUrl: 'https://attache.example',
      loginTtlMs: 600_000,
      log: pino({ level: 'silent' }),
    });
  });
  afterEach(async () => store.close());

  async function login(state: string, browser: string, expiresInMs: number, cli: { redirectUri: string; codeChallenge: string; state: string } | null = null): Promise<void> {
    const now = Date.now();
    await store.oidc.createOidcLogin({
      stateHash: hashSecret(state),
      tenantId,
      browserHash: hashSecret(browser),
      nonce: 'n',
      codeVerifier: 'v',
      returnTo: '/',
      cli,
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

  it('sends the refusal of a CLI sign-in to its loopback redirect, with its state, and no code', async () => {
    const cli = { redirectUri: 'http://127.0.0.1:50123/callback', codeChallenge: 'c'.repeat(43), state: 'cli-state-0123456789' };
    await login('cli-elsewhere', 'browser-a', 60_000, cli);
    const finished = await signIn.finish(new URLSearchParams('code=c&state=cli-elsewhere'), 'browser-b');
    expect(finished.kind).toBe('cli');
    const back = new URL((finished as { redirect: string }).redirect);
    expect(back.origin + back.pathname).toBe(cli.redirectUri);
    expect(back.searchParams.get('state')).toBe(cli.state);
    expect(back.searchParams.get('error')).toBe('OIDC_STATE_INVALID');
    expect(back.searchParams.get('error_description')).toContain('another browser');
    expect(back.searchParams.get('code')).toBeNull();
    // The sign-in is spent all the same.
    expect(await reason('code=c&state=cli-elsewhere', 'browser-a')).toBe('unknown-or-used');
  });

  it('names the callback from ATTACHE_PUBLIC_URL', () => {
    expect(signIn.redirectUri()).toBe('https://attache.example/v1/session/oidc/callback');
  });
});
