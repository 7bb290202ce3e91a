import { createHash } from 'node:crypto';
import { Algorithms, type KeyPair, type Permissions } from '@nats-io/jwt';

/**
 * A NATS user JWT (v2, `ed25519-nkey`), encoded here instead of with @nats-io/jwt's `encodeUser`.
 *
 * Why: `encodeUser` names each JWT (`jti`) by a SHA-512 of its claims computed with WebCrypto's
 * asynchronous `subtle.digest`, a job on the thread pool and a promise per JWT. A CPU profile of a
 * control plane serving 10,000 NATS delegates reconnecting at once had 3.6 of its 35 busy seconds
 * (10%) in that digest. The claims here are the ones `encodeUser` writes, in the same order, and the
 * name is the same hash, computed synchronously; `user-jwt.test.ts` checks both against the library
 * and nats-server accepts the result in the NATS e2e tests.
 */
export interface UserJwtClaims {
  /** The user's name (informational). */
  readonly name: string;
  /** The user's public nkey, U... */
  readonly userPublicKey: string;
  /** The account the user belongs to, A... (the signer is its own key or one of its signing keys). */
  readonly accountPublicKey: string;
  readonly permissions: Permissions;
  /** Expiry, whole seconds since the epoch. */
  readonly expiresAtSeconds?: number | undefined;
}

const HEADER = base64url(JSON.stringify({ typ: 'JWT', alg: Algorithms.v2 }));

export function encodeUserJwt(claims: UserJwtClaims, signer: KeyPair, now: Date = new Date()): string {
  const issuer = signer.getPublicKey();
  // The key order of encodeUser's claim object: exp, aud, name, sub, nats, iss, iat, jti.
  const claim: Record<string, unknown> = {
    ...(claims.expiresAtSeconds !== undefined ? { exp: claims.expiresAtSeconds } : {}),
    aud: 'NATS',
    name: claims.name,
    sub: claims.userPublicKey,
    nats: {
      data: -1,
      payload: -1,
      subs: -1,
      ...claims.permissions,
      // encodeUser names the account whenever a signer is given, even the account's own key.
      issuer_account: claims.accountPublicKey,
      type: 'user',
      version: 2,
    },
    iss: issuer,
    iat: Math.floor(now.getTime() / 1000),
  };
  claim['jti'] = createHash('sha512').update(JSON.stringify(claim)).digest('base64');
  const body = base64url(JSON.stringify(claim));
  const signature = Buffer.from(signer.sign(Buffer.from(`${HEADER}.${body}`, 'utf8'))).toString('base64url');
  return `${HEADER}.${body}.${signature}`;
}

function base64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}
