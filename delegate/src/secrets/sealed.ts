import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { TaskFailure } from '../executors/task-failure.js';
import type { Keyring } from '../keys/keyring.js';

/**
 * Sealed values: a secret encrypted on the client to a delegate group's public key, so the control
 * plane stores and forwards only ciphertext it cannot open. A sealed value is a secret reference
 * string (it goes wherever `env:`/`file:` go, with no protocol change):
 *
 *   sealed:v1:<keyId>:<base64url(enc)>:<base64url(ciphertext)>
 *
 * HPKE (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM. The associated
 * data binds the tenant, the account and the field, so a value cannot be replayed into another
 * tenant's or account's task, nor moved into a field whose value leaves the delegate in clear (an
 * access key ID is sent to AWS as-is; a secret key never is).
 */
export const SEALED_PREFIX = 'sealed:v1:';

/** Where a sealed value may be used. `field` is the API field name, e.g. `secretAccessKey`. */
export interface SealBinding {
  readonly tenantId: string;
  readonly accountId: string;
  readonly field: string;
}

/** Fixed HPKE `info`: separates this use of the suite from any other use of the same key. */
const INFO = new TextEncoder().encode('attache sealed secret v1');
/** Far above any credential (a PEM RSA-4096 key is ~3.3 KB) and well under the 1 MiB frame cap. */
export const MAX_PLAINTEXT_BYTES = 16_384;
const KEY_ID = /^[0-9a-f]{16}$/;
const B64URL = /^[A-Za-z0-9_-]+$/;
/** X25519's encapsulated key (Nenc) and AES-GCM's tag (Nt). */
const ENC_BYTES = 32;
const TAG_BYTES = 16;

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

/** The associated data; the same string the control plane documents (docs/security.md). */
export function associatedData(binding: SealBinding): Uint8Array {
  for (const [name, value] of Object.entries(binding)) {
    // `|` separates the parts; allowing it inside one would let two bindings encode the same bytes.
    if (value === '' || value.includes('|')) throw new Error(`sealing binding ${name} must be non-empty and contain no "|"`);
  }
  return new TextEncoder().encode(`attache/v1|${binding.tenantId}|${binding.accountId}|${binding.field}`);
}

export function isSealedRef(ref: string): boolean {
  return ref.startsWith('sealed:');
}

export interface SealedEnvelope {
  keyId: string;
  enc: Uint8Array;
  ciphertext: Uint8Array;
}

/** Parses the envelope; null when it is not well formed. Says nothing about whether it opens. */
export function parseSealed(ref: string): SealedEnvelope | null {
  if (!ref.startsWith(SEALED_PREFIX)) return null;
  const parts = ref.slice(SEALED_PREFIX.length).split(':');
  if (parts.length !== 3) return null;
  const [keyId, enc, ct] = parts as [string, string, string];
  if (!KEY_ID.test(keyId) || !B64URL.test(enc) || !B64URL.test(ct)) return null;
  const envelope = { keyId, enc: Buffer.from(enc, 'base64url'), ciphertext: Buffer.from(ct, 'base64url') };
  if (envelope.enc.length !== ENC_BYTES || envelope.ciphertext.length <= TAG_BYTES || envelope.ciphertext.length > MAX_PLAINTEXT_BYTES + TAG_BYTES) return null;
  return envelope;
}

/** Seals `plaintext` to a group's raw X25519 public key. Runs on the client (CLI), never on the control plane. */
export async function sealValue(publicKey: Uint8Array, keyId: string, plaintext: string, binding: SealBinding): Promise<string> {
  const bytes = new TextEncoder().encode(plaintext);
  if (bytes.length === 0) throw new Error('nothing to seal: the value is empty');
  if (bytes.length > MAX_PLAINTEXT_BYTES) throw new Error(`the value has ${bytes.length} bytes; at most ${MAX_PLAINTEXT_BYTES} can be sealed`);
  const recipientPublicKey = await suite.kem.deserializePublicKey(publicKey);
  const { ct, enc } = await suite.seal({ recipientPublicKey, info: INFO }, bytes, associatedData(binding));
  return `${SEALED_PREFIX}${keyId}:${Buffer.from(enc).toString('base64url')}:${Buffer.from(ct).toString('base64url')}`;
}

/** Error codes of sealed values, beside SECRET_UNRESOLVED (the reference itself is unusable). */
export const SealedErrorCode = {
  /** This delegate holds no key with the value's key ID: wrong group, or the key was rotated away. */
  SEALED_KEY_UNKNOWN: 'SEALED_KEY_UNKNOWN',
  /** The key is right but the value does not open: tampered, or sealed for another tenant, account or field. */
  SEALED_VALUE_INVALID: 'SEALED_VALUE_INVALID',
} as const;

/**
 * Opens a sealed reference with this delegate's keys. Failures name the key ID and the binding,
 * never the ciphertext (it is not secret, but it is noise) and never anything decrypted.
 */
export async function openSealed(ref: string, keyring: Keyring, binding: SealBinding): Promise<string> {
  const envelope = parseSealed(ref);
  if (!envelope) {
    throw new TaskFailure(
      SealedErrorCode.SEALED_VALUE_INVALID,
      `The sealed value in ${binding.field} is malformed (expected sealed:v1:<keyId>:<enc>:<ciphertext>); seal it again with attache-delegate seal.`,
      { field: binding.field, reason: 'malformed' },
    );
  }
  const key = keyring.get(envelope.keyId);
  if (!key) {
    const held = keyring.keyIds;
    throw new TaskFailure(
      SealedErrorCode.SEALED_KEY_UNKNOWN,
      `The value in ${binding.field} is sealed to key ${envelope.keyId}, which this delegate does not hold (it holds ${held.length > 0 ? held.join(', ') : 'no group key'}); seal it again to the group's current key (GET /v1/delegate-groups/{name}/public-key).`,
      { field: binding.field, keyId: envelope.keyId, heldKeyIds: held },
    );
  }
  let plaintext: ArrayBuffer;
  try {
    const recipientKey = await suite.kem.deserializePrivateKey(key.privateKey);
    plaintext = await suite.open({ recipientKey, enc: envelope.enc, info: INFO }, envelope.ciphertext, associatedData(binding));
  } catch (err) {
    throw new TaskFailure(
      SealedErrorCode.SEALED_VALUE_INVALID,
      `The value in ${binding.field} does not open with key ${envelope.keyId}: it was altered, or sealed for another tenant, account or field (this one is tenant ${binding.tenantId}, account ${binding.accountId}, field ${binding.field}); seal it again for exactly these.`,
      { field: binding.field, keyId: envelope.keyId, reason: 'authentication-failed' },
      { cause: err },
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
  } catch (err) {
    throw new TaskFailure(SealedErrorCode.SEALED_VALUE_INVALID, `The value in ${binding.field} opened but is not UTF-8 text; seal the secret as text.`, { field: binding.field, keyId: envelope.keyId, reason: 'not-text' }, { cause: err });
  }
}
