import { spawnSync } from 'node:child_process';
import { createPublicKey, diffieHellman, generateKeyPairSync, sign, verify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { newRawKeyPair, privateKeyFromRaw, rawPrivateKeyOf, rawPublicKeyOf } from './raw-key-pair.js';

const fromRaw = (raw: Uint8Array, crv: 'X25519' | 'Ed25519') => createPublicKey({ key: { kty: 'OKP', crv, x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });

describe('raw key pairs', () => {
  it('makes Ed25519 pairs whose raw public key verifies their signatures', () => {
    const pair = newRawKeyPair('ed25519');
    expect(pair.publicKey).toHaveLength(32);
    const data = Buffer.from('nonce');
    expect(verify(null, data, fromRaw(pair.publicKey, 'Ed25519'), sign(null, data, pair.privateKey))).toBe(true);
    expect(newRawKeyPair('ed25519').publicKey).not.toEqual(pair.publicKey);
  });

  it('makes X25519 pairs that agree with a peer on one shared secret', () => {
    const a = newRawKeyPair('x25519');
    const b = generateKeyPairSync('x25519');
    const fromA = diffieHellman({ privateKey: a.privateKey, publicKey: b.publicKey });
    const fromB = diffieHellman({ privateKey: b.privateKey, publicKey: fromRaw(a.publicKey, 'X25519') });
    expect(fromA.equals(fromB)).toBe(true);
  });

  it('reads raw halves that rebuild the same key, the same as JWK names them, and refuses a wrong length', () => {
    for (const type of ['x25519', 'ed25519'] as const) {
      const pair = newRawKeyPair(type);
      const raw = rawPrivateKeyOf(pair.privateKey);
      expect(rawPublicKeyOf(privateKeyFromRaw(type, raw))).toEqual(pair.publicKey);
      expect(rawPublicKeyOf(pair.privateKey)).toEqual(pair.publicKey);
      // JWK of a key made by createPrivateKey (no generation job behind it) is safe to read.
      const jwk = privateKeyFromRaw(type, raw).export({ format: 'jwk' });
      expect(Buffer.from(jwk.x as string, 'base64url')).toEqual(Buffer.from(pair.publicKey));
      expect(Buffer.from(jwk.d as string, 'base64url')).toEqual(Buffer.from(raw));
    }
    expect(() => privateKeyFromRaw('ed25519', new Uint8Array(31))).toThrow(/32 bytes, not 31/);
    expect(() => rawPublicKeyOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toThrow(/X25519 or Ed25519/);
  });

  it('makes pairs for 3 s with a small young generation (frequent scavenges) without the process stopping', () => {
    // With JWK exports instead of DER this loop deadlocked Node.js 20 in 6 of 6 runs (it made
    // 20,000-26,000 pairs in 3 s with DER); a child process with a deadline turns a hang into a failure.
    const script = `
      const { newRawKeyPair } = await import(${JSON.stringify(fileURLToPath(new URL('./raw-key-pair.ts', import.meta.url)))});
      let junk = [];
      let made = 0;
      for (const until = Date.now() + 3000; Date.now() < until; made++) {
        newRawKeyPair(made % 6 ? 'ed25519' : 'x25519');
        junk.push(new Array(50).fill(made));
        if (junk.length > 2000) junk = [];
      }
      console.log(made);`;
    const child = spawnSync(process.execPath, ['--max-semi-space-size=1', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(child.error, 'the child did not finish within 30 s (deadlocked?)').toBeUndefined();
    expect(child.stderr).toBe('');
    expect(Number(child.stdout.trim())).toBeGreaterThan(1_000);
  });
});
