import { createHash, randomBytes } from 'node:crypto';
import { Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';

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
 *
 * The clients that seal (the `attache` CLI, `attache-delegate seal`) and the delegate that opens
 * import this one file, so the construction cannot drift between them. It depends on nothing but
 * @hpke/core and node:crypto, and is its own entry (`@attache/proto/sealed-value`), so a client
 * loads no protocol or gRPC code to seal.
 */
export const SEALED_PREFIX = 'sealed:v1:';

/** RFC 9180 names: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM. */
export const SEALING_ALGORITHM = 'HPKE-X25519-HKDF-SHA256-AES-256-GCM';

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

/** First 16 hex digits of SHA-256 over the raw public key: short enough to route on, long enough not to collide by chance. */
export function keyIdOf(publicKey: Uint8Array): string {
  return createHash('sha256').update(publicKey).digest('hex').slice(0, 16);
}

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

/** Opens an envelope with a raw X25519 private key; throws (HPKE's own error) when it does not authenticate. */
export async function openEnvelope(privateKey: Uint8Array, envelope: SealedEnvelope, binding: SealBinding): Promise<ArrayBuffer> {
  const recipientKey = await suite.kem.deserializePrivateKey(privateKey);
  return suite.open({ recipientKey, enc: envelope.enc, info: INFO }, envelope.ciphertext, associatedData(binding));
}

/** The control plane's id alphabet (Crockford base32, lower case): 26 characters carry 130 random bits. */
const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A fresh AWS account id in the control plane's own unguessable format. The id is in the associated
 * data, so a client picks it before sealing and creates the account with it.
 */
export function newAccountId(): string {
  const bytes = randomBytes(26);
  return `acc_${[...bytes].map((b) => ID_ALPHABET[b & 31]).join('')}`;
}

/** The part of `GET /v1/delegate-groups/{name}/public-key` (or a saved copy of it) that sealing reads. */
export interface GroupPublicKeyAnswer {
  tenantId?: string;
  current?: { keyId?: string; algorithm?: string; publicKey?: string } | null;
}

export interface SealingKey {
  readonly keyId: string;
  readonly publicKey: Uint8Array;
  readonly tenantId: string;
}

/**
 * The key to seal to, from a group's public-key answer. The key id is derived, never trusted: a key
 * id that did not match its key would route the value to the wrong group.
 */
export function sealingKeyFrom(answer: GroupPublicKeyAnswer, tenantId: string | undefined = answer.tenantId): SealingKey {
  const current = answer.current;
  if (!current?.publicKey) throw new Error('no current public key: no delegate of the group has connected with a key yet');
  if (current.algorithm !== undefined && current.algorithm !== SEALING_ALGORITHM) throw new Error(`unsupported key algorithm ${current.algorithm}`);
  const publicKey = Buffer.from(current.publicKey, 'base64url');
  const keyId = keyIdOf(publicKey);
  if (current.keyId !== undefined && current.keyId !== keyId) throw new Error(`the answer names key ${current.keyId} but its public key has id ${keyId}`);
  if (tenantId === undefined) throw new Error('--tenant is required with a public key file');
  if (answer.tenantId !== undefined && tenantId !== answer.tenantId) throw new Error(`--tenant ${tenantId} differs from the key's tenant ${answer.tenantId}`);
  return { keyId, publicKey, tenantId };
}

/** The secret as typed or piped on standard input: trailing line breaks are the terminal's, not the secret's. */
export function secretFromInput(text: string): string {
  return text.replace(/(\r?\n)+$/, '');
}
