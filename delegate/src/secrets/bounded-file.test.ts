import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_SECRET_FILE_BYTES, readBoundedFile, SecretFileError } from './bounded-file.js';

describe('readBoundedFile', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-bounded-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function reason(path: string): Promise<string> {
    const error = await readBoundedFile(path).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SecretFileError);
    return (error as SecretFileError).reason;
  }

  it('reads a regular file up to the bound', async () => {
    await writeFile(join(dir, 'ok'), Buffer.alloc(MAX_SECRET_FILE_BYTES, 0x61));
    expect((await readBoundedFile(join(dir, 'ok'))).length).toBe(MAX_SECRET_FILE_BYTES);
  });

  it('refuses a file one byte, or 1 KiB, over the bound', async () => {
    await writeFile(join(dir, 'over'), Buffer.alloc(MAX_SECRET_FILE_BYTES + 1));
    await writeFile(join(dir, 'big'), Buffer.alloc(65 * 1024));
    expect(await reason(join(dir, 'over'))).toBe('too-large');
    expect(await reason(join(dir, 'big'))).toBe('too-large');
  });

  it('refuses /dev/zero, a FIFO nobody writes to (without hanging) and a directory', async () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    expect(await reason('/dev/zero')).toBe('not-regular-file');
    expect(await reason(fifo)).toBe('not-regular-file');
    expect(await reason(dir)).toBe('not-regular-file');
  });

  it('passes file-system errors through for the caller to name', async () => {
    await expect(readBoundedFile(join(dir, 'absent'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
