import { describe, expect, it } from 'vitest';
import { pkceS256 } from './cli-sign-in.js';

describe('pkceS256', () => {
  it('is the S256 transformation of RFC 7636 §4.2 (checked against WebCrypto, an independent SHA-256)', async () => {
    for (const verifier of ['a'.repeat(43), 'Zz0-._~'.repeat(10), 'x'.repeat(128)]) {
      const digest = Buffer.from(await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))).toString('base64url');
      expect(pkceS256(verifier)).toBe(digest);
      expect(pkceS256(verifier)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
  });
});
