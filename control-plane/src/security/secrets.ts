import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Bearer secrets (operator key, tenant API keys, delegate tokens) are 256-bit random values with a
 * readable prefix. Only their SHA-256 is stored: with that much entropy a fast hash is enough, and
 * lookups by hash stay O(1) per request.
 */
export const KEY_PREFIX = { operator: 'atop_', apiKey: 'atk_', delegateToken: 'atd_' } as const;

export function newSecret(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export function secretsEqual(a: string, b: string): boolean {
  const ha = Buffer.from(hashSecret(a), 'hex');
  const hb = Buffer.from(hashSecret(b), 'hex');
  return timingSafeEqual(ha, hb);
}

/** Random, unguessable, URL-safe: used for a tenant's AWS external ID. */
export function newExternalId(): string {
  return randomBytes(24).toString('base64url');
}
