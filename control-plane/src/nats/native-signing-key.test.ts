import { createAccount, createUser, decode, encodeUser, type KeyPair } from '@nats-io/jwt';
import { describe, expect, it } from 'vitest';
import { nativeSigningKey } from './native-signing-key.js';

describe('nativeSigningKey', () => {
  it('signs byte-for-byte as nkeys does, and serves the same identity', () => {
    const kp = createAccount();
    const fast = nativeSigningKey(kp as KeyPair & { getRawSeed: () => Uint8Array });
    for (const text of ['', 'a', 'eyJ0eXAiOiJKV1QifQ.eyJqdGkiOiJ4In0', 'x'.repeat(5_000)]) {
      const data = new TextEncoder().encode(text);
      expect(Buffer.from(fast.sign(data))).toEqual(Buffer.from(kp.sign(data)));
      expect(fast.verify(data, kp.sign(data))).toBe(true);
      expect(kp.verify(data, fast.sign(data))).toBe(true);
    }
    expect(fast.getPublicKey()).toBe(kp.getPublicKey());
    expect(Buffer.from(fast.getPrivateKey())).toEqual(Buffer.from(kp.getPrivateKey()));
    expect(fast.verify(new Uint8Array([1]), new Uint8Array(64))).toBe(false);
  });

  it('mints user JWTs that @nats-io/jwt verifies, issued by the account through the signing key', async () => {
    const account = createAccount();
    const signing = createAccount();
    const user = createUser();
    const jwt = await encodeUser('u', user.getPublicKey(), account.getPublicKey(), { pub: { allow: ['a.b'] } }, { signer: nativeSigningKey(signing as KeyPair & { getRawSeed: () => Uint8Array }) });
    const claims = decode<{ pub: { allow: string[] }; issuer_account: string }>(jwt);
    expect(claims.iss).toBe(signing.getPublicKey());
    expect(claims.sub).toBe(user.getPublicKey());
    expect(claims.nats.issuer_account).toBe(account.getPublicKey());
    expect(claims.nats.pub.allow).toEqual(['a.b']);
  });

  it('refuses a key pair without a seed', () => {
    expect(() => nativeSigningKey({ getPublicKey: () => 'A' } as unknown as KeyPair)).toThrow(/seed/);
  });
});
