import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

/**
 * Raw 32-byte X25519 and Ed25519 keys, read and written as DER, never as JWK.
 *
 * Why: on Node.js 20, `export({ format: 'jwk' })` of a key that `generateKeyPairSync` made can
 * deadlock the process. The JWK export holds the key's mutex while it allocates its strings; when
 * that allocation starts a garbage collection that finalises the key-generation job, the job's
 * destructor waits for the same mutex, and the main thread stops for good. A bench process with
 * 2,500 NATS delegates hung that way (no heartbeats, its sockets never read again), and a loop of
 * Ed25519 generations with JWK exports hangs within 1,000 to 3,000 keys. The DER exports below ran
 * 250,000 generations without a hang (`raw-key-pair.test.ts` keeps a smaller loop in a child
 * process with a deadline).
 */
export type RawKeyType = 'x25519' | 'ed25519';

export interface RawKeyPair {
  readonly privateKey: KeyObject;
  /** The raw 32-byte public key. */
  readonly publicKey: Uint8Array;
}

export const RAW_KEY_BYTES = 32;

/** PKCS#8 PrivateKeyInfo (RFC 8410) up to the 32 key bytes. */
const PKCS8_PREFIX: Record<RawKeyType, Buffer> = {
  x25519: Buffer.from('302e020100300506032b656e04220420', 'hex'),
  ed25519: Buffer.from('302e020100300506032b657004220420', 'hex'),
};
/** SubjectPublicKeyInfo (RFC 8410) up to the 32 key bytes: 12 bytes for both curves. */
const SPKI_BYTES = 12 + RAW_KEY_BYTES;
const PKCS8_BYTES = 16 + RAW_KEY_BYTES;

export function newRawKeyPair(type: RawKeyType): RawKeyPair {
  // Typed per curve: generateKeyPairSync's overloads do not take a union.
  const { privateKey, publicKey } = type === 'x25519' ? generateKeyPairSync('x25519') : generateKeyPairSync('ed25519');
  return { privateKey, publicKey: rawPublicKeyOf(publicKey) };
}

/** The raw 32-byte public key of an X25519 or Ed25519 key object (private or public). */
export function rawPublicKeyOf(key: KeyObject): Uint8Array {
  const spki = (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' });
  if (spki.length !== SPKI_BYTES) throw new Error(`expected an X25519 or Ed25519 key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return new Uint8Array(spki.subarray(SPKI_BYTES - RAW_KEY_BYTES));
}

/** The raw 32-byte private key (X25519 scalar or Ed25519 seed) of a private key object. */
export function rawPrivateKeyOf(key: KeyObject): Uint8Array {
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' });
  if (pkcs8.length !== PKCS8_BYTES) throw new Error(`expected an X25519 or Ed25519 private key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return new Uint8Array(pkcs8.subarray(PKCS8_BYTES - RAW_KEY_BYTES));
}

/** The private key object for 32 raw private-key bytes. */
export function privateKeyFromRaw(type: RawKeyType, raw: Uint8Array): KeyObject {
  if (raw.length !== RAW_KEY_BYTES) throw new RangeError(`An ${type} private key is ${RAW_KEY_BYTES} bytes, not ${raw.length}.`);
  return createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX[type], raw]), format: 'der', type: 'pkcs8' });
}
