import { realpath } from 'node:fs/promises';
import { basename, isAbsolute, posix } from 'node:path';
import { TaskFailure } from '../executors/task-failure.js';
import type { Keyring } from '../keys/keyring.js';
import { DelegatePolicy } from '../policy/delegate-policy.js';
import type { ReferencePolicy } from '../policy/reference-policy.js';
import { checkFieldName, checkFieldValue, type SecretField } from '../policy/secret-fields.js';
import { MAX_SECRET_FILE_BYTES, readBoundedFile, SecretFileError } from './bounded-file.js';
import { openSealed } from './sealed.js';

/**
 * Secret references: the control plane stores where a secret lives on the delegate, never the
 * value. `env:NAME` reads the delegate's environment; `file:/absolute/path` reads a file (a mounted
 * Kubernetes secret, a Vault agent sink) on every use, so rotations apply without a restart.
 * `sealed:v1:...` is a value sealed to the delegate group's key (secrets/sealed.ts).
 */
export type RegisterSecret = ((value: string) => void) & {
  /**
   * What opening a sealed value needs. It rides on the register function because that function
   * already travels from the executor to every place a reference is resolved; executors that know
   * the tenant and account attach it (executors/sealed-scope.ts), and no code in between changes.
   */
  readonly sealed?: SealedScope;
  /**
   * This delegate's reference policy (ATTACHE_ALLOW_REFS and the reserved rules). Absent (a caller
   * that wires none), the default policy applies: never a wider one.
   */
  readonly references?: ReferencePolicy;
};

const DEFAULT_REFERENCES = new DelegatePolicy().references;

/** The keys of this delegate and whom the running task is for: the sealed value's associated data. */
export interface SealedScope {
  readonly keyring: Keyring;
  readonly tenantId: string;
  readonly accountId: string;
}

/** Why a reference did not resolve; reported in `details.reason` for machines. */
export type UnresolvedReason =
  | 'empty-reference'
  | 'unsupported-scheme'
  | 'sealed-not-supported'
  | 'not-set'
  | 'not-absolute'
  | 'not-found'
  | 'unreadable'
  | 'not-regular-file'
  | 'too-large'
  | 'empty-value';

const SUPPORTED = 'use env:NAME, file:/absolute/path or a sealed value (attache-delegate seal)';

/**
 * Resolves `ref` for `field` (the API field name, see policy/secret-fields.ts; also part of a
 * sealed value's binding) and registers the value for masking before returning it.
 * `env:` and `file:` references are checked against the delegate's reference policy before anything
 * is read (SECRET_NOT_ALLOWED naming the reference and ATTACHE_ALLOW_REFS); a failure to read is
 * SECRET_UNRESOLVED naming the reference; a sealed value that does not open fails with
 * SEALED_KEY_UNKNOWN or SEALED_VALUE_INVALID. No failure carries a value.
 */
export async function resolveSecretRef(ref: string, registerSecret: RegisterSecret, field: SecretField): Promise<string> {
  const references = registerSecret.references ?? DEFAULT_REFERENCES;
  const value = await read(ref, registerSecret, field, references);
  const shown = ref.startsWith('sealed:') ? undefined : ref;
  if (value === '') throw unresolved(shown, 'empty-value', `${shown === undefined ? `The sealed value for ${field}` : `Secret reference ${ref}`} resolved to an empty value; put the secret there.`);
  // Masked before any check can fail, so that even a refusal's surroundings cannot show it.
  registerSecret(value);
  if (shown !== undefined) references.checkValue(shown, value);
  checkFieldValue(shown, value, field);
  return value;
}

async function read(ref: string, registerSecret: RegisterSecret, field: SecretField, references: ReferencePolicy): Promise<string> {
  if (ref === '') throw unresolved(ref, 'empty-reference', `A secret reference is empty; ${SUPPORTED}.`);
  const colon = ref.indexOf(':');
  const scheme = colon > 0 ? ref.slice(0, colon) : '';
  const rest = ref.slice(colon + 1);

  if (scheme === 'sealed') {
    const scope = registerSecret.sealed;
    // Named by field, not echoed: the envelope is long and says nothing a person can act on.
    if (scope === undefined) {
      throw unresolved(undefined, 'sealed-not-supported', `A sealed value is not supported for ${field} in this task type; ${SUPPORTED}.`);
    }
    return openSealed(ref, scope.keyring, { tenantId: scope.tenantId, accountId: scope.accountId, field });
  }

  if (scheme === 'env') {
    references.checkEnv(ref, rest);
    checkFieldName(ref, rest, field);
    const value = process.env[rest];
    if (rest === '' || value === undefined) {
      throw unresolved(ref, 'not-set', `Secret reference ${ref}: the environment variable ${rest} is not set on the delegate.`);
    }
    return value;
  }

  if (scheme === 'file') {
    if (!isAbsolute(rest)) throw unresolved(ref, 'not-absolute', `Secret reference ${ref}: the path must be absolute.`);
    // Names and patterns first, on the path as written with `.` and `..` folded: a refused path
    // is never looked up, so a refusal says nothing about what exists on the delegate.
    const normalised = posix.normalize(rest);
    await references.checkPath(ref, normalised);
    checkFieldName(ref, basename(normalised), field);
    let real: string;
    let contents: Buffer;
    try {
      real = await realpath(normalised);
      await references.checkRealPath(ref, real);
      // The real path is what was checked, so it is what is opened.
      contents = await readBoundedFile(real);
    } catch (error) {
      if (error instanceof TaskFailure) throw error;
      throw fileFailure(ref, error);
    }
    // A trailing newline is an artefact of `echo` and editors, never part of a key.
    return contents.toString('utf8').replace(/(\r?\n)+$/, '');
  }

  // Something without a known scheme may be a secret pasted where its reference belongs: mask it
  // and echo at most a scheme-like prefix, so the failure itself does not leak it.
  if (!/^[a-z][a-z0-9+.-]*$/i.test(scheme)) {
    registerSecret(ref);
    throw unresolved(
      undefined,
      'unsupported-scheme',
      `A secret reference is not of the form scheme:value (not echoed in case it is a secret); ${SUPPORTED}.`,
    );
  }
  throw unresolved(ref, 'unsupported-scheme', `Secret reference ${ref} uses the unsupported scheme "${scheme}"; ${SUPPORTED}.`);
}

function fileFailure(ref: string, error: unknown): TaskFailure {
  if (error instanceof SecretFileError) {
    return error.reason === 'too-large'
      ? unresolved(ref, 'too-large', `Secret reference ${ref}: the file is larger than ${MAX_SECRET_FILE_BYTES / 1024} KiB, which no key or token is; point the reference at the secret itself.`, error)
      : unresolved(ref, 'not-regular-file', `Secret reference ${ref}: the path is ${error.kind ?? 'not a regular file'}, and the delegate reads secrets only from regular files; point it at the file holding the secret.`, error);
  }
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return unresolved(ref, 'not-found', `Secret reference ${ref}: the file does not exist on the delegate.`, error);
  }
  // A socket cannot be opened as a file at all.
  if (code === 'ENXIO') {
    return unresolved(ref, 'not-regular-file', `Secret reference ${ref}: the path is not a regular file, and the delegate reads secrets only from regular files; point it at the file holding the secret.`, error);
  }
  return unresolved(ref, 'unreadable', `Secret reference ${ref}: the delegate cannot read the file (${code ?? 'error'}); check its permissions.`, error);
}

function unresolved(ref: string | undefined, reason: UnresolvedReason, message: string, cause?: unknown): TaskFailure {
  return new TaskFailure('SECRET_UNRESOLVED', message, ref === undefined ? { reason } : { reference: ref, reason }, { cause });
}
