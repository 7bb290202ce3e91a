import { createHmac, createPublicKey, diffieHellman, timingSafeEqual, type KeyObject } from 'node:crypto';
import { newRawKeyPair, privateKeyFromRaw, RAW_KEY_BYTES } from './raw-key-pair.js';

/**
 * Proof that a delegate holds the private half of each group key it announces (KeyChallenge /
 * KeyProof in the protocol). The control plane sends a fresh X25519 public key; for every announced
 * key the delegate answers HMAC-SHA256(X25519(group private, ephemeral public), context), which the
 * control plane recomputes from its ephemeral private key and the announced public key. Both sides
 * use this file, so the construction cannot drift between them.
 */
const CONTEXT = Buffer.from('attache/key-proof/v1\0', 'utf8');

const publicKeyObject = (raw: Uint8Array): KeyObject =>
  createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });

function sharedSecret(privateKey: KeyObject, peerPublic: Uint8Array): Buffer {
  if (peerPublic.length !== RAW_KEY_BYTES) throw new Error(`an X25519 public key has ${RAW_KEY_BYTES} bytes, not ${peerPublic.length}`);
  const secret = diffieHellman({ privateKey, publicKey: publicKeyObject(peerPublic) });
  // A low-order peer key yields all zeros: a value anyone can compute, so no proof of anything.
  if (secret.every((b) => b === 0)) throw new Error('the X25519 shared secret is all zeros (low-order public key)');
  return secret;
}

function mac(secret: Buffer, ephemeralPublic: Uint8Array, groupPublic: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(CONTEXT).update(ephemeralPublic).update(groupPublic).digest();
}

/** Control-plane side: a challenge for one connection. */
export interface KeyChallengeState {
  /** Goes into KeyChallenge.ephemeral_public_key. */
  readonly ephemeralPublicKey: Uint8Array;
  /** True when `proof` shows possession of the private key of `groupPublicKey`. */
  verify(groupPublicKey: Uint8Array, proof: Uint8Array): boolean;
}

export function newKeyChallenge(): KeyChallengeState {
  // Its public half as DER, not JWK: see raw-key-pair.ts.
  const { privateKey, publicKey: ephemeralPublicKey } = newRawKeyPair('x25519');
  return {
    ephemeralPublicKey,
    verify(groupPublicKey, proof) {
      let expected: Buffer;
      try {
        expected = mac(sharedSecret(privateKey, groupPublicKey), ephemeralPublicKey, groupPublicKey);
      } catch {
        return false;
      }
      return proof.length === expected.length && timingSafeEqual(Buffer.from(proof), expected);
    },
  };
}

/** Delegate side: the proof for one group key (raw 32-byte private and public halves). */
export function proveKeyPossession(groupPrivateKey: Uint8Array, groupPublicKey: Uint8Array, ephemeralPublicKey: Uint8Array): Uint8Array {
  // From the private half alone (PKCS#8): Node.js 24 refuses a JWK whose x does not belong to d,
  // and a proof made with the wrong pair must fail verification, not throw.
  const privateKey = privateKeyFromRaw('x25519', groupPrivateKey);
  return mac(sharedSecret(privateKey, ephemeralPublicKey), ephemeralPublicKey, groupPublicKey);
}
