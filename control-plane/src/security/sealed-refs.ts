import { createHash } from 'node:crypto';

/**
 * Sealed values as the control plane sees them: opaque ciphertext in a secret-reference string,
 * `sealed:v1:<keyId>:<base64url(enc)>:<base64url(ciphertext)>` (the delegate's secrets/sealed.ts
 * defines the cryptography). The control plane cannot open them; it checks their form, routes the
 * task to delegates holding the key, and reports which accounts use which key.
 */
export const SEALED_REF = /^sealed:v1:[0-9a-f]{16}:[A-Za-z0-9_-]{43}:[A-Za-z0-9_-]{23,21867}$/;

/** The suite delegates announce; a key of any other algorithm is refused at Hello. */
export const SEALING_ALGORITHM = 'HPKE-X25519-HKDF-SHA256-AES-256-GCM';

/** Tag prefix of a delegate holding a group key, and selector prefix of a task needing one. */
export const KEY_TAG_PREFIX = 'key:';

export function keyTag(keyId: string): string {
  return `${KEY_TAG_PREFIX}${keyId}`;
}

/** The key id of a raw public key: first 16 hex digits of its SHA-256, as the delegate computes it. */
export function keyIdOf(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
}

export function isSealedRef(value: string): boolean {
  return value.startsWith('sealed:');
}

export interface SealedUse {
  /** Dotted path of the field inside the scanned value, e.g. `auth.source.secretAccessKey`. */
  path: string;
  keyId: string;
}

/** Every sealed value inside a JSON-like value (an account's auth, a task payload), with where it sits. */
export function sealedUses(value: unknown, path = ''): SealedUse[] {
  if (typeof value === 'string') {
    return SEALED_REF.test(value) ? [{ path, keyId: value.split(':')[2]! }] : [];
  }
  if (Array.isArray(value)) return value.flatMap((v, i) => sealedUses(v, path === '' ? String(i) : `${path}.${i}`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => sealedUses(v, path === '' ? k : `${path}.${k}`));
  }
  return [];
}

/** The `key:<id>` selectors a task carrying `payload` needs, so that only holders of the keys get it. */
export function keySelectors(payload: unknown): string[] {
  return [...new Set(sealedUses(payload).map((u) => keyTag(u.keyId)))];
}
