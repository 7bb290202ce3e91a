import { TaskFailure } from '../executors/task-failure.js';
import { REFS_SETTING } from './reference-pattern.js';

/**
 * The fields a secret reference can feed, by their API names (also the `field` of a sealed value's
 * associated data), and what becomes of the value of each.
 *
 * - `secretAccessKey` and `userKey` are only ever used to sign (SigV4, the SCAP mutual-TLS
 *   handshake); they never leave the delegate.
 * - `accessKeyId` and `sessionToken` travel in clear in request headers (`Authorization:
 *   ... Credential=<access key id>/...`, `X-Amz-Security-Token`). So that a control plane cannot
 *   re-route a signing secret (or any other secret the policy allows) into a header, a reference
 *   that is not sealed may feed them only if its *name* says it holds that field: the env variable
 *   name, or the file's base name, upper-cased with `-` and `.` read as `_`, must contain
 *   `ACCESS_KEY_ID` (for accessKeyId) or `SESSION_TOKEN` (for sessionToken), and must not contain
 *   `SECRET`. `env:AWS_ACCESS_KEY_ID`, `file:/var/run/secrets/attache/access-key-id` and
 *   `env:PROD_SESSION_TOKEN` qualify; `env:AWS_SECRET_ACCESS_KEY` never does. Sealed values need
 *   no name: their associated data binds them to the field.
 * - Whatever the source, the value fed to `accessKeyId` must look like an AWS access key id, so
 *   that not even a well-named reference carries arbitrary text into a header.
 */
export type SecretField = 'accessKeyId' | 'secretAccessKey' | 'sessionToken' | 'userKey';

interface TravellingField {
  /** What the reference's name must contain. */
  readonly nameMustContain: string;
  /** The shape every value of the field must have, whatever its source. */
  readonly valueShape?: RegExp;
}

/** Fields whose values leave the delegate in headers; the others are only used to sign. */
const TRAVELLING: Partial<Record<SecretField, TravellingField>> = {
  accessKeyId: { nameMustContain: 'ACCESS_KEY_ID', valueShape: /^[A-Z0-9]{16,128}$/ },
  sessionToken: { nameMustContain: 'SESSION_TOKEN' },
};

/** The name the rule reads: `AWS_ACCESS_KEY_ID` for both `env:AWS_ACCESS_KEY_ID` and `file:/x/aws.access-key-id`. */
export function referenceName(nameOrBaseName: string): string {
  return nameOrBaseName.toUpperCase().replace(/[-.]/g, '_');
}

/**
 * Refuses a non-sealed reference whose name does not say it holds `field` (see above); `name` is
 * the env variable name or the file's base name. Looks at names only, never at the file system.
 */
export function checkFieldName(reference: string, name: string, field: SecretField): void {
  const rule = TRAVELLING[field];
  if (rule === undefined) return;
  const normalised = referenceName(name);
  if (normalised.includes(rule.nameMustContain) && !normalised.includes('SECRET')) return;
  throw new TaskFailure(
    'SECRET_NOT_ALLOWED',
    `Secret reference ${reference} may not feed ${field}: ${field} is sent in clear in request headers, so the delegate takes it only from a reference whose name (the variable name, or the file's base name, with - and . read as _) contains ${rule.nameMustContain} and not SECRET, or from a sealed value; rename the variable or file (e.g. ${field === 'accessKeyId' ? 'AWS_ACCESS_KEY_ID' : 'AWS_SESSION_TOKEN'}) and allow it in ${REFS_SETTING}.`,
    { reference, setting: REFS_SETTING, reason: 'field-not-allowed', field },
  );
}

/** Refuses a resolved value that does not have its field's shape; never echoes the value. */
export function checkFieldValue(reference: string | undefined, value: string, field: SecretField): void {
  const shape = TRAVELLING[field]?.valueShape;
  if (shape === undefined || shape.test(value)) return;
  const named = reference === undefined ? `The sealed value for ${field}` : `Secret reference ${reference}`;
  throw new TaskFailure(
    'SECRET_NOT_ALLOWED',
    `${named} does not hold an AWS access key id (16 to 128 upper-case letters and digits), and ${field} is sent in clear in request headers, so the delegate refuses it; point ${field} at the access key id itself.`,
    { ...(reference === undefined ? {} : { reference }), setting: REFS_SETTING, reason: 'field-not-allowed', field },
  );
}
