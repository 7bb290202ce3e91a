import { randomBytes } from 'node:crypto';
import { pkceS256 } from '@attache/proto';

/** A PKCE pair (RFC 7636): the verifier stays in this process, the S256 challenge goes in the start URL. */
export interface Pkce {
  verifier: string;
  challenge: string;
}

/** 32 random bytes, base64url: a 43-character verifier, the RFC's recommended size. */
export function newPkce(): Pkce {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: pkceS256(verifier) };
}

/** The CLI's own state: the loopback callback must echo it, or it did not come from the sign-in we started. */
export function newState(): string {
  return randomBytes(24).toString('base64url');
}
