import { createHash } from 'node:crypto';

/**
 * What `attache login --oidc` and the control plane must agree on (RFC 8252 with PKCE): the route
 * the CLI trades its one-time code at, and the S256 rule that ties its verifier to the challenge
 * it sent at the start (RFC 7636 §4.2), written once for both sides.
 */
export const CLI_SIGN_IN_START_PATH = '/v1/session/oidc/start';
export const CLI_SIGN_IN_EXCHANGE_PATH = '/v1/session/oidc/exchange';

/** BASE64URL(SHA256(ASCII(verifier))), without padding. */
export function pkceS256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}
