import { isSealedRef, SEALED_REF as SEALED_VALUE } from './sealed-refs.js';

/**
 * Recognises values that look like secret material typed where a reference belongs. The control
 * plane must never hold a usable secret, so such a request is refused rather than stored.
 */
const PATTERNS: Array<{ kind: string; re: RegExp }> = [
  { kind: 'an AWS access key ID', re: /\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|APKA)[A-Z0-9]{16}\b/ },
  { kind: 'a PEM private key', re: /-----BEGIN [A-Z ]*PRIVATE KEY-----/ },
  { kind: 'an AWS secret access key', re: /^[A-Za-z0-9/+]{40}$/ },
  { kind: 'an AWS session token', re: /^(IQoJb3JpZ2lu|FwoGZXIvYXdz)[A-Za-z0-9/+=]{40,}$/ },
];

export function literalSecretKind(value: string): string | null {
  // Ciphertext is the safe way to hand over a secret; a chance AKIA-like run inside it is no leak.
  if (isSealedRef(value)) return null;
  for (const { kind, re } of PATTERNS) if (re.test(value)) return kind;
  return null;
}

/** A secret reference resolved on the delegate: an environment variable, a mounted file, or a sealed value. */
export const SECRET_REF = new RegExp(`^(env:[A-Za-z_][A-Za-z0-9_]{0,127}|file:\\/[^\\0]{1,1023})$|${SEALED_VALUE.source}`);

export const SECRET_REF_HELP =
  'Give a reference the delegate resolves locally instead: "env:NAME" (an environment variable of the delegate), "file:/path" (a file mounted into the delegate, e.g. a Kubernetes secret), or a value sealed to the delegate group\'s key (attache-delegate seal; docs/security.md).';
