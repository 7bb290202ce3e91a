import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { TaskFailure } from '../executors/task-failure.js';
import type { Keyring } from '../keys/keyring.js';
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
};

/** The keys of this delegate and whom the running task is for: the sealed value's associated data. */
export interface SealedScope {
  readonly keyring: Keyring;
  readonly tenantId: string;
  readonly accountId: string;
}

/** Why a reference did not resolve; reported in `details.reason` for machines. */
export type UnresolvedReason = 'empty-reference' | 'unsupported-scheme' | 'sealed-not-supported' | 'not-set' | 'not-absolute' | 'not-found' | 'unreadable' | 'empty-value';

const SUPPORTED = 'use env:NAME, file:/absolute/path or a sealed value (attache-delegate seal)';

/**
 * Resolves `ref` to its value and registers the value for masking before returning it.
 * Every failure is `TaskFailure('SECRET_UNRESOLVED')` naming the reference, never a value; a sealed
 * value that does not open fails with SEALED_KEY_UNKNOWN or SEALED_VALUE_INVALID. `field` (the API
 * field name, e.g. `secretAccessKey`) is part of a sealed value's binding; without it sealed values
 * are refused.
 */
export async function resolveSecretRef(ref: string, registerSecret: RegisterSecret, field?: string): Promise<string> {
  const value = await read(ref, registerSecret, field);
  if (value === '') throw unresolved(ref, 'empty-value', `Secret reference ${ref} resolved to an empty value; put the secret there.`);
  registerSecret(value);
  return value;
}

async function read(ref: string, registerSecret: RegisterSecret, field: string | undefined): Promise<string> {
  if (ref === '') throw unresolved(ref, 'empty-reference', `A secret reference is empty; ${SUPPORTED}.`);
  const colon = ref.indexOf(':');
  const scheme = colon > 0 ? ref.slice(0, colon) : '';
  const rest = ref.slice(colon + 1);

  if (scheme === 'sealed') {
    const scope = registerSecret.sealed;
    // Named by field, not echoed: the envelope is long and says nothing a person can act on.
    if (field === undefined || scope === undefined) {
      throw unresolved(undefined, 'sealed-not-supported', `A sealed value is not supported ${field === undefined ? 'in this field' : `for ${field} in this task type`}; ${SUPPORTED}.`);
    }
    return openSealed(ref, scope.keyring, { tenantId: scope.tenantId, accountId: scope.accountId, field });
  }

  if (scheme === 'env') {
    const value = process.env[rest];
    if (rest === '' || value === undefined) {
      throw unresolved(ref, 'not-set', `Secret reference ${ref}: the environment variable ${rest} is not set on the delegate.`);
    }
    return value;
  }

  if (scheme === 'file') {
    if (!isAbsolute(rest)) throw unresolved(ref, 'not-absolute', `Secret reference ${ref}: the path must be absolute.`);
    try {
      // A trailing newline is an artefact of `echo` and editors, never part of a key.
      return (await readFile(rest, 'utf8')).replace(/(\r?\n)+$/, '');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw unresolved(ref, 'not-found', `Secret reference ${ref}: the file does not exist on the delegate.`, error);
      }
      throw unresolved(ref, 'unreadable', `Secret reference ${ref}: the delegate cannot read the file (${code ?? 'error'}); check its permissions.`, error);
    }
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

function unresolved(ref: string | undefined, reason: UnresolvedReason, message: string, cause?: unknown): TaskFailure {
  return new TaskFailure('SECRET_UNRESOLVED', message, ref === undefined ? { reason } : { reference: ref, reason }, { cause });
}
