import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const VERSION = 'v1';
const KEY_FILE = 'oidc-secret.key';

/**
 * Seals secrets the control plane itself must use later (a tenant's OIDC client secret, sent to
 * that tenant's provider): AES-256-GCM under a key that lives outside the database, with the
 * purpose and the tenant as associated data, so a sealed value copied to another tenant's row does
 * not open. A database dump alone gives ciphertext.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** The key from ATTACHE_OIDC_SECRET_KEY, else read from (or generated into) the data dir, 0600. */
  static async load(dataDir: string, material: string | undefined): Promise<SecretBox> {
    if (material) return new SecretBox(derive(material));
    const file = join(dataDir, KEY_FILE);
    try {
      const stored = (await readFile(file, 'utf8')).trim();
      if (stored.length >= 32) return new SecretBox(derive(stored));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const generated = randomBytes(32).toString('base64url');
    try {
      await writeFile(file, `${generated}\n`, { mode: 0o600, flag: 'wx' });
      return new SecretBox(derive(generated));
    } catch (err) {
      // Another process on the same data dir wrote it first: use theirs.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return new SecretBox(derive((await readFile(file, 'utf8')).trim()));
    }
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
    return `${VERSION}:${iv.toString('base64url')}:${body.toString('base64url')}`;
  }

  /** Null when the value was sealed under another key or context, or was altered. */
  open(sealed: string, context: string): string | null {
    const [version, iv, body] = sealed.split(':');
    if (version !== VERSION || !iv || !body) return null;
    try {
      const raw = Buffer.from(body, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - 16));
      return Buffer.concat([decipher.update(raw.subarray(0, raw.length - 16)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }
}

function derive(material: string): Buffer {
  return Buffer.from(hkdfSync('sha256', material, 'attache', 'attache secret box v1', 32));
}
