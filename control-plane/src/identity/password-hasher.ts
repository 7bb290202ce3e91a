import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Local passwords, hashed with scrypt from node:crypto: no native add-on to build, and memory-hard
 * like argon2id. Every hash carries its own salt and parameters, so the cost can rise later without
 * invalidating stored hashes (verify reads them back; `needsRehash` says when to upgrade).
 *
 * Encoded as `$scrypt$ln=15,r=8,p=1$<salt>$<hash>` (base64url), after the PHC string format.
 */
export const PASSWORD_MIN_LENGTH = 12;
/** Long enough for any passphrase or manager; bounded so one request cannot ask for a huge hash input. */
export const PASSWORD_MAX_LENGTH = 256;

export interface ScryptParams {
  /** log2 of N, the CPU/memory cost. */
  ln: number;
  r: number;
  p: number;
}

/**
 * N = 2^15, r = 8, p = 1: 32 MiB and roughly 50-100 ms per hash on a server core, the cost OWASP
 * lists for scrypt. A sign-in is rare; an offline guess at that price is what the salt and cost buy.
 */
export const DEFAULT_SCRYPT: ScryptParams = { ln: 15, r: 8, p: 1 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const N = 2 ** params.ln;
  const options: ScryptOptions = { N, r: params.r, p: params.p, maxmem: 128 * N * params.r * 2 };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

function decode(encoded: string): { params: ScryptParams; salt: Buffer; hash: Buffer } | null {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([\w-]+)\$([\w-]+)$/.exec(encoded);
  if (!m) return null;
  const params = { ln: Number(m[1]), r: Number(m[2]), p: Number(m[3]) };
  // Bounds on what a stored string may ask of us (a tampered row must not cost gigabytes).
  if (params.ln < 10 || params.ln > 20 || params.r < 1 || params.r > 32 || params.p < 1 || params.p > 16) return null;
  return { params, salt: Buffer.from(m[4]!, 'base64url'), hash: Buffer.from(m[5]!, 'base64url') };
}

export class PasswordHasher {
  /** Verified against when no user matches, so an unknown email costs what a wrong password costs. */
  private dummy: Promise<string> | undefined;

  constructor(readonly params: ScryptParams = DEFAULT_SCRYPT) {
    // Ready before the first unknown email, which must not take longer than a wrong password.
    this.dummyHash().catch(() => undefined);
  }

  private dummyHash(): Promise<string> {
    // Made once; a failure (it cannot fail short of memory exhaustion) is retried next time.
    this.dummy ??= this.hash('not the password of anyone').catch((err: unknown) => {
      this.dummy = undefined;
      throw err;
    });
    return this.dummy;
  }

  async hash(password: string): Promise<string> {
    const salt = randomBytes(SALT_LENGTH);
    const key = await derive(password, salt, this.params);
    const { ln, r, p } = this.params;
    return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  }

  /** Constant-time comparison; a malformed or missing hash is a mismatch after the same work. */
  async verify(password: string, encoded: string | null): Promise<boolean> {
    const parsed = encoded ? decode(encoded) : null;
    if (!parsed) {
      await this.verify(password, await this.dummyHash());
      return false;
    }
    const key = await derive(password, parsed.salt, parsed.params);
    return key.length === parsed.hash.length && timingSafeEqual(key, parsed.hash);
  }

  /** Spends the time of one verification (sign-in for an email that has no password to check). */
  async burn(password: string): Promise<void> {
    await this.verify(password, null);
  }

  needsRehash(encoded: string): boolean {
    const parsed = decode(encoded);
    return !parsed || parsed.params.ln < this.params.ln || parsed.params.r !== this.params.r || parsed.params.p !== this.params.p;
  }
}

/** The password rule, stated once; null when acceptable. */
export function passwordProblem(password: string): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `must be at least ${PASSWORD_MIN_LENGTH} characters`;
  if (password.length > PASSWORD_MAX_LENGTH) return `must be at most ${PASSWORD_MAX_LENGTH} characters`;
  return null;
}
