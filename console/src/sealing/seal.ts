import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';

/**
 * Sealing in the browser: the same sealed-value format as proto/src/sealed-value.ts (the CLI's and
 * the delegate's), on WebCrypto instead of node:crypto, so the secret is encrypted in the page and
 * only ciphertext bound to tenant, account and field is ever sent:
 *
 *   sealed:v1:<keyId>:<base64url(enc)>:<base64url(ciphertext)>
 *
 * The proto module cannot be bundled for the browser (it uses node:crypto and Buffer), so its
 * constants are restated here; e2e/src/console/sealing.test.ts opens what this seals with the
 * delegate's own code, so the two cannot drift apart unnoticed.
 */
export const SEALED_PREFIX = 'sealed:v1:';
export const SEALING_ALGORITHM = 'HPKE-X25519-HKDF-SHA256-AES-256-GCM';
export const MAX_PLAINTEXT_BYTES = 16_384;
const INFO = new TextEncoder().encode('attache sealed secret v1');
const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export interface SealBinding {
  readonly tenantId: string;
  readonly accountId: string;
  readonly field: string;
}

export interface SealingKey {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
}

/** Sealing failed before anything was sent; the message says what to do. */
export class SealingError extends Error {
  constructor(
    readonly code: 'SEALING_KEY_MISSING' | 'SEALING_KEY_MISMATCH' | 'SEALING_VALUE_INVALID',
    message: string,
  ) {
    super(message);
    this.name = 'SealingError';
  }
}

const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes256Gcm() });

export function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function fromBase64url(text: string): Uint8Array {
  const binary = atob(text.replaceAll('-', '+').replaceAll('_', '/'));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export async function keyIdOf(publicKey: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', publicKey as Uint8Array<ArrayBuffer>));
  return [...digest.slice(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

export function associatedData(binding: SealBinding): Uint8Array {
  for (const [name, value] of Object.entries(binding)) {
    if (value === '' || value.includes('|')) throw new SealingError('SEALING_VALUE_INVALID', `The sealing binding ${name} must be non-empty and contain no "|".`);
  }
  return new TextEncoder().encode(`attache/v1|${binding.tenantId}|${binding.accountId}|${binding.field}`);
}

/** The key of a group's public-key answer; its id is derived from the key, never taken on trust. */
export async function sealingKeyFrom(answer: { current?: { keyId?: string; algorithm?: string; publicKey?: string } | null }, group: string): Promise<SealingKey> {
  const current = answer.current;
  if (!current?.publicKey) throw new SealingError('SEALING_KEY_MISSING', `Delegate group ${group} has no public key yet: start one of its delegates with a state directory (ATTACHE_STATE_DIR), then try again.`);
  if (current.algorithm !== undefined && current.algorithm !== SEALING_ALGORITHM) {
    throw new SealingError('SEALING_KEY_MISMATCH', `Delegate group ${group} publishes a ${current.algorithm} key, which this console cannot seal to; upgrade the console or the delegate.`);
  }
  const publicKey = fromBase64url(current.publicKey);
  const keyId = await keyIdOf(publicKey);
  if (current.keyId !== undefined && current.keyId !== keyId) {
    throw new SealingError('SEALING_KEY_MISMATCH', `Delegate group ${group} names key ${current.keyId}, but its public key has id ${keyId}: do not seal to it, and tell its operators.`);
  }
  return { keyId, publicKey };
}

export async function sealValue(key: SealingKey, plaintext: string, binding: SealBinding): Promise<string> {
  const bytes = new TextEncoder().encode(plaintext);
  if (bytes.length === 0) throw new SealingError('SEALING_VALUE_INVALID', 'There is nothing to seal: type the secret first.');
  if (bytes.length > MAX_PLAINTEXT_BYTES) throw new SealingError('SEALING_VALUE_INVALID', `The value has ${bytes.length} bytes; at most ${MAX_PLAINTEXT_BYTES} can be sealed.`);
  const recipientPublicKey = await suite.kem.deserializePublicKey(key.publicKey as Uint8Array<ArrayBuffer>);
  const { ct, enc } = await suite.seal({ recipientPublicKey, info: INFO }, bytes, associatedData(binding));
  return `${SEALED_PREFIX}${key.keyId}:${base64url(new Uint8Array(enc))}:${base64url(new Uint8Array(ct))}`;
}

/** A fresh account id in the control plane's format: it is in the associated data, so it is chosen before sealing. */
export function newAccountId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(26));
  return `acc_${[...bytes].map((b) => ID_ALPHABET[b & 31]).join('')}`;
}
