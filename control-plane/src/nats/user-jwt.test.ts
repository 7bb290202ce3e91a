import { createAccount, createUser, decode, encodeUser, Algorithms, type KeyPair } from '@nats-io/jwt';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nativeSigningKey } from './native-signing-key.js';
import { encodeUserJwt } from './user-jwt.js';

const native = (kp: KeyPair) => nativeSigningKey(kp as KeyPair & { getRawSeed: () => Uint8Array });

describe('encodeUserJwt', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes byte for byte the JWT @nats-io/jwt encodeUser writes for the same claims and time', async () => {
    const now = new Date('2026-12-04T12:00:00.500Z');
    vi.useFakeTimers({ now, toFake: ['Date'] });
    const account = createAccount();
    const cases: Array<{ signer: KeyPair; permissions: Record<string, unknown>; exp?: number }> = [
      // A signing key (the control plane's usual setup), with the permissions of a delegate session and an expiry.
      {
        signer: native(createAccount()),
        permissions: { pub: { allow: ['attache.d.t1.s1.connect', 'attache.d.t1.s1.up'] }, sub: { allow: ['attache.d.t1.s1.down', 'attache.d.t1.s1.inbox.>'] } },
        exp: Math.floor(now.getTime() / 1000) + 900,
      },
      // The account's own key, no permissions and no expiry (the control plane's own user).
      { signer: native(account), permissions: {} },
    ];
    for (const c of cases) {
      const user = createUser();
      const theirs = await encodeUser('delegate', user.getPublicKey(), account.getPublicKey(), { ...c.permissions }, {
        signer: c.signer,
        algorithm: Algorithms.v2,
        ...(c.exp !== undefined ? { exp: c.exp } : {}),
      });
      const ours = encodeUserJwt(
        { name: 'delegate', userPublicKey: user.getPublicKey(), accountPublicKey: account.getPublicKey(), permissions: c.permissions, expiresAtSeconds: c.exp },
        c.signer,
      );
      expect(ours).toBe(theirs);
    }
  });

  it('is verified by @nats-io/jwt and carries the user, account, permissions and expiry', () => {
    const account = createAccount();
    const signing = createAccount();
    const user = createUser();
    const jwt = encodeUserJwt(
      { name: 'u', userPublicKey: user.getPublicKey(), accountPublicKey: account.getPublicKey(), permissions: { pub: { allow: ['a.b'] } }, expiresAtSeconds: 2_000_000_000 },
      native(signing),
    );
    const claims = decode<{ pub: { allow: string[] }; issuer_account: string; type: string }>(jwt);
    expect(claims).toMatchObject({ iss: signing.getPublicKey(), sub: user.getPublicKey(), name: 'u', exp: 2_000_000_000, aud: 'NATS' });
    expect(claims.nats).toMatchObject({ issuer_account: account.getPublicKey(), type: 'user', version: 2, pub: { allow: ['a.b'] } });
    // A signature by another key does not verify.
    const [h, b] = jwt.split('.');
    const forged = `${h}.${b}.${Buffer.from(native(createAccount()).sign(new TextEncoder().encode(`${h}.${b}`))).toString('base64url')}`;
    expect(() => decode(forged)).toThrow(/sig verification failed/);
  });
});
