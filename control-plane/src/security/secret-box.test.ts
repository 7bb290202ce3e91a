import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SecretBox } from './secret-box.js';

describe('SecretBox', () => {
  const dirs: string[] = [];
  afterAll(async () => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

  it('opens what it sealed only with the same key and context, and refuses altered values', async () => {
    const box = await SecretBox.load('/nonexistent', 'k'.repeat(32));
    const sealed = box.seal('client-secret-value', 'tenant-a');
    expect(sealed).not.toContain('client-secret-value');
    expect(box.open(sealed, 'tenant-a')).toBe('client-secret-value');
    expect(box.open(sealed, 'tenant-b')).toBeNull();
    expect((await SecretBox.load('/nonexistent', 'j'.repeat(32))).open(sealed, 'tenant-a')).toBeNull();
    const [v, iv, body] = sealed.split(':');
    const flipped = Buffer.from(body!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(box.open(`${v}:${iv}:${flipped.toString('base64url')}`, 'tenant-a')).toBeNull();
    expect(box.open('not sealed', 'tenant-a')).toBeNull();
  });

  it('without key material, generates a key file (0600) once and reuses it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'attache-box-'));
    dirs.push(dir);
    const first = await SecretBox.load(dir, undefined);
    const sealed = first.seal('s3cret', 'ctx');
    expect((await stat(join(dir, 'oidc-secret.key'))).mode & 0o777).toBe(0o600);
    const again = await SecretBox.load(dir, undefined);
    expect(again.open(sealed, 'ctx')).toBe('s3cret');
    expect(await readFile(join(dir, 'oidc-secret.key'), 'utf8')).not.toContain('s3cret');
  });
});
