import { createPrivateKey, createPublicKey } from 'node:crypto';
import { createUser, fromPublic } from '@nats-io/nkeys';
import { describe, expect, it } from 'vitest';
import { encodeNkey, newNatsUserKey } from './nats-user-key.js';

describe('NATS user key on Node crypto', () => {
  it('encodes public keys exactly as nkeys does', () => {
    for (let i = 0; i < 20; i++) {
      const kp = createUser() as ReturnType<typeof createUser> & { getRawSeed(): Uint8Array };
      const priv = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(kp.getRawSeed())]), format: 'der', type: 'pkcs8' });
      const raw = Buffer.from(createPublicKey(priv).export({ format: 'jwk' }).x as string, 'base64url');
      expect(encodeNkey(20 << 3, raw)).toBe(kp.getPublicKey());
    }
  });

  it('makes user keys that nkeys parses and whose signatures nkeys verifies', () => {
    const key = newNatsUserKey();
    expect(key.publicKey).toMatch(/^U[A-Z2-7]{55}$/);
    const pub = fromPublic(key.publicKey);
    const nonce = new TextEncoder().encode('server-nonce-123');
    expect(pub.verify(nonce, key.sign(nonce))).toBe(true);
    expect(pub.verify(new TextEncoder().encode('other'), key.sign(nonce))).toBe(false);
    expect(newNatsUserKey().publicKey).not.toBe(key.publicKey);
  });
});
