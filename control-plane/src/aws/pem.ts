import { X509Certificate } from 'node:crypto';

/**
 * PEM certificate bundles (CA bundles, SCAP user certificates). They are public, so the control
 * plane stores them by value, but a malformed one must be refused at the API: found later, on a
 * delegate, it would look like a network or trust failure.
 */
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** Problems with a PEM bundle, one sentence each; empty when every block is a parseable X.509 certificate. */
export function pemCertificateProblems(pem: string): string[] {
  const problems: string[] = [];
  let count = 0;
  for (const match of pem.matchAll(BLOCK)) {
    count++;
    const label = match[1];
    if (label !== 'CERTIFICATE') {
      problems.push(`PEM block ${count} is "${label}", but only CERTIFICATE blocks belong here`);
      continue;
    }
    try {
      new X509Certificate(match[0]);
    } catch {
      problems.push(`PEM block ${count} is not a valid X.509 certificate`);
    }
  }
  if (count === 0) problems.push('contains no PEM certificate (-----BEGIN CERTIFICATE----- ... -----END CERTIFICATE-----)');
  // Text outside the blocks is usually a truncated paste; a stray END without BEGIN is the common case.
  const outside = pem.replace(BLOCK, '').trim();
  if (count > 0 && /-----(BEGIN|END) /.test(outside)) problems.push('has an unterminated or unmatched PEM block; paste whole certificates');
  return problems;
}
