import { describe, expect, it } from 'vitest';
import { DEFAULT_SCRYPT, PASSWORD_MIN_LENGTH, PasswordHasher, passwordProblem } from './password-hasher.js';

// The default cost is what production uses; the cheaper one only speeds up the tests that need many hashes.
const cheap = new PasswordHasher({ ln: 10, r: 8, p: 1 });

describe('PasswordHasher (scrypt)', () => {
  it('hashes with the default parameters, a salt per password, and verifies only the right password', async () => {
    const hasher = new PasswordHasher();
    const a = await hasher.hash('correct horse battery staple');
    const b = await hasher.hash('correct horse battery staple');
    expect(a).toMatch(new RegExp(`^\\$scrypt\\$ln=${DEFAULT_SCRYPT.ln},r=${DEFAULT_SCRYPT.r},p=${DEFAULT_SCRYPT.p}\\$[\\w-]{22}\\$[\\w-]{43}$`));
    expect(a).not.toBe(b);
    expect(a).not.toContain('correct');
    await expect(hasher.verify('correct horse battery staple', a)).resolves.toBe(true);
    await expect(hasher.verify('correct horse battery staplE', a)).resolves.toBe(false);
    await expect(hasher.verify('', a)).resolves.toBe(false);
  });

  it('verifies with the parameters stored in the hash, so the cost can change without breaking old hashes', async () => {
    const old = await cheap.hash('an older password hash');
    const current = new PasswordHasher();
    await expect(current.verify('an older password hash', old)).resolves.toBe(true);
    expect(current.needsRehash(old)).toBe(true);
    expect(current.needsRehash(await current.hash('a fresh password here'))).toBe(false);
  });

  it('treats a missing, malformed or tampered hash as a mismatch, and refuses absurd parameters', async () => {
    const good = await cheap.hash('twelve chars!!');
    await expect(cheap.verify('twelve chars!!', null)).resolves.toBe(false);
    await expect(cheap.verify('twelve chars!!', 'plaintext')).resolves.toBe(false);
    await expect(cheap.verify('twelve chars!!', good.replace('ln=10', 'ln=30'))).resolves.toBe(false);
    const [, , params, salt, hash] = good.split('$');
    const flipped = hash!.startsWith('A') ? `B${hash!.slice(1)}` : `A${hash!.slice(1)}`;
    await expect(cheap.verify('twelve chars!!', `$scrypt$${params}$${salt}$${flipped}`)).resolves.toBe(false);
  });

  it('spends about the same time on an unknown account as on a wrong password', async () => {
    const hasher = new PasswordHasher();
    const stored = await hasher.hash('the real password');
    await hasher.burn('warm up');
    const time = async (fn: () => Promise<unknown>) => {
      const t = performance.now();
      await fn();
      return performance.now() - t;
    };
    const wrong = await time(() => hasher.verify('a wrong password', stored));
    const unknown = await time(() => hasher.burn('a wrong password'));
    // Both are one scrypt at the same cost: within a factor that scheduling noise cannot explain away.
    expect(unknown).toBeGreaterThan(wrong / 3);
    expect(unknown).toBeLessThan(wrong * 3);
  });

  it(`requires at least ${PASSWORD_MIN_LENGTH} characters and bounds the length`, () => {
    expect(passwordProblem('x'.repeat(PASSWORD_MIN_LENGTH - 1))).toMatch(/at least 12/);
    expect(passwordProblem('x'.repeat(PASSWORD_MIN_LENGTH))).toBeNull();
    expect(passwordProblem('x'.repeat(257))).toMatch(/at most 256/);
  });
});
