import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newKeyChallenge, proveKeyPossession } from './key-proof.js';

function groupKey() {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { priv: Buffer.from(jwk.d as string, 'base64url'), pub: Buffer.from(jwk.x as string, 'base64url') };
}

describe('key possession proof', () => {
  it('verifies for the holder of the private key, on that challenge only', () => {
    const key = groupKey();
    const challenge = newKeyChallenge();
    expect(challenge.ephemeralPublicKey).toHaveLength(32);
    const proof = proveKeyPossession(key.priv, key.pub, challenge.ephemeralPublicKey);
    expect(challenge.verify(key.pub, proof)).toBe(true);
    // A fresh challenge (another connection) does not accept a replayed proof.
    expect(newKeyChallenge().verify(key.pub, proof)).toBe(false);
  });

  it('fails for a delegate that only knows the public key, or proves another key', () => {
    const key = groupKey();
    const other = groupKey();
    const challenge = newKeyChallenge();
    // Proving with some other private key while announcing the group's public key.
    expect(challenge.verify(key.pub, proveKeyPossession(other.priv, key.pub, challenge.ephemeralPublicKey))).toBe(false);
    expect(challenge.verify(key.pub, proveKeyPossession(other.priv, other.pub, challenge.ephemeralPublicKey))).toBe(false);
    expect(challenge.verify(key.pub, new Uint8Array(32))).toBe(false);
    expect(challenge.verify(key.pub, new Uint8Array(0))).toBe(false);
  });

  it('refuses malformed and low-order public keys instead of accepting a computable secret', () => {
    const challenge = newKeyChallenge();
    expect(challenge.verify(new Uint8Array(31), new Uint8Array(32))).toBe(false);
    // The all-zero point is of low order: X25519 with it is zero for every private key.
    expect(challenge.verify(new Uint8Array(32), new Uint8Array(32))).toBe(false);
    const key = groupKey();
    expect(() => proveKeyPossession(key.priv, key.pub, new Uint8Array(32))).toThrow();
  });
});
