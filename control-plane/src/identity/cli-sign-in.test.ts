import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as client from 'openid-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashSecret } from '../security/secrets.js';
import type { Tenant, UserRecord } from '../store/store.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { pkceS256 as s256 } from '@attache/proto';
import { CliSignIn } from './cli-sign-in.js';
import { LoginThrottle } from './login-throttle.js';
import { PasswordHasher } from './password-hasher.js';
import { SessionService } from './session-service.js';
import { UserService } from './user-service.js';

/** The one-time code of a CLI sign-in, against a real SQLite store (the provider part is e2e/src/cli-oidc.test.ts). */
describe('CliSignIn', () => {
  let store: SqliteStore;
  let sessions: SessionService;
  let tenant: Tenant;
  let user: UserRecord;
  const tenantId = 'ten_cli';
  const redirectUri = 'http://127.0.0.1:50999/callback';

  beforeEach(async () => {
    store = SqliteStore.open({ path: ':memory:' });
    await store.migrate();
    await store.createTenant({ id: tenantId, name: 'cli', externalId: 'x', createdAt: new Date() }, { id: 'key_c', tenantId, hash: 'h-c', createdAt: new Date() });
    const hasher = new PasswordHasher({ ln: 10, r: 8, p: 1 });
    sessions = new SessionService(store.identity, hasher, new LoginThrottle(store.identity), { idleMs: 60_000, absoluteMs: 3_600_000 });
    user = await new UserService(store.identity, hasher).create(tenantId, { email: 'cli@example.com', name: 'Cli', role: 'editor' });
    tenant = (await store.getTenant(tenantId))!;
  });
  afterEach(async () => store.close());

  const pkce = () => {
    const verifier = randomBytes(32).toString('base64url');
    return { verifier, challenge: s256(verifier) };
  };

  async function issued(cli: CliSignIn, challenge: string): Promise<{ code: string; url: URL }> {
    const url = new URL(await cli.issue({ tenant, user }, cli.binding({ redirectUri, codeChallenge: challenge, state: 'the-cli-state-0123' })));
    return { code: url.searchParams.get('code')!, url };
  }

  async function refusal(p: Promise<unknown>): Promise<unknown> {
    try {
      await p;
    } catch (err) {
      return { code: (err as { code?: string }).code, reason: (err as { details?: Record<string, unknown> }).details?.['reason'], tenantId: (err as { tenantId?: string }).tenantId };
    }
    throw new Error('the exchange did not refuse');
  }

  it('computes the S256 challenge as an independent implementation (openid-client) does', async () => {
    for (let i = 0; i < 5; i++) {
      const verifier = client.randomPKCECodeVerifier();
      expect(s256(verifier)).toBe(await client.calculatePKCECodeChallenge(verifier));
    }
  });

  it('hands a code to the loopback with the CLI state, stores only its hash, and exchanges it once for a user session', async () => {
    const cli = new CliSignIn({ store, sessions, codeTtlMs: 60_000 });
    const { verifier, challenge } = pkce();
    const { code, url } = await issued(cli, challenge);
    expect(url.origin + url.pathname).toBe(redirectUri);
    expect(url.searchParams.get('state')).toBe('the-cli-state-0123');
    expect(code).toMatch(/^atc_[A-Za-z0-9_-]{43}$/);
    // Only the hash is kept: the code itself finds nothing.
    expect(await store.oidc.takeCliCode(code)).toBeNull();

    const session = await cli.exchange({ code, codeVerifier: verifier, redirectUri });
    expect(session.secret).toMatch(/^ats_/);
    expect(session.user.id).toBe(user.id);
    expect((await sessions.resolve(session.secret)).user.email).toBe('cli@example.com');
    expect(await refusal(cli.exchange({ code, codeVerifier: verifier, redirectUri }))).toEqual({ code: 'OIDC_CODE_INVALID', reason: 'unknown-or-used', tenantId: null });
    expect(hashSecret(code)).not.toBe(code);
  });

  it('refuses a wrong verifier and a different redirect, and the refused code is spent', async () => {
    const cli = new CliSignIn({ store, sessions, codeTtlMs: 60_000 });
    const { verifier, challenge } = pkce();
    const first = await issued(cli, challenge);
    expect(await refusal(cli.exchange({ code: first.code, codeVerifier: pkce().verifier, redirectUri }))).toEqual({ code: 'OIDC_CODE_INVALID', reason: 'verifier-mismatch', tenantId });
    expect(await refusal(cli.exchange({ code: first.code, codeVerifier: verifier, redirectUri }))).toMatchObject({ reason: 'unknown-or-used' });

    const second = await issued(cli, challenge);
    expect(await refusal(cli.exchange({ code: second.code, codeVerifier: verifier, redirectUri: 'http://127.0.0.1:50998/callback' }))).toMatchObject({ reason: 'redirect-mismatch', tenantId });
    const third = await issued(cli, challenge);
    expect(await refusal(cli.exchange({ code: third.code, codeVerifier: verifier, redirectUri: 'https://evil.example/callback' }))).toMatchObject({ reason: 'redirect-mismatch' });
  });

  it('refuses an expired code', async () => {
    const cli = new CliSignIn({ store, sessions, codeTtlMs: 50 });
    const { verifier, challenge } = pkce();
    const { code } = await issued(cli, challenge);
    await sleep(80);
    expect(await refusal(cli.exchange({ code, codeVerifier: verifier, redirectUri }))).toMatchObject({ code: 'OIDC_CODE_INVALID', reason: 'expired' });
  });

  it('refuses the code of a user disabled since the sign-in', async () => {
    const cli = new CliSignIn({ store, sessions, codeTtlMs: 60_000 });
    const { verifier, challenge } = pkce();
    const { code } = await issued(cli, challenge);
    await store.identity.updateUser(tenantId, user.id, { status: 'disabled' }, new Date());
    expect(await refusal(cli.exchange({ code, codeVerifier: verifier, redirectUri }))).toMatchObject({ code: 'OIDC_CODE_INVALID', reason: 'user-gone' });
  });

  it('refuses a non-loopback redirect at the start', () => {
    const cli = new CliSignIn({ store, sessions, codeTtlMs: 60_000 });
    expect(() => cli.binding({ redirectUri: 'http://attacker.example:8080/cb', codeChallenge: 'c'.repeat(43), state: 'x'.repeat(16) })).toThrow(
      expect.objectContaining({ code: 'OIDC_REDIRECT_NOT_LOOPBACK' }),
    );
  });
});
