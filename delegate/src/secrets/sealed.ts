import { openEnvelope, parseSealed, type SealBinding } from '@attache/proto/sealed-value';
import { TaskFailure } from '../executors/task-failure.js';
import type { Keyring } from '../keys/keyring.js';

/**
 * Opening sealed values on the delegate. The format, the binding and sealing itself live in
 * @attache/proto/sealed-value, shared with the clients that seal (the `attache` CLI and
 * `attache-delegate seal`); they are re-exported here for the delegate's own imports.
 */
export {
  associatedData,
  isSealedRef,
  MAX_PLAINTEXT_BYTES,
  parseSealed,
  SEALED_PREFIX,
  sealValue,
  type SealBinding,
  type SealedEnvelope,
} from '@attache/proto/sealed-value';

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
    plaintext = await openEnvelope(key.privateKey, envelope, binding);
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
