import { mkdtemp, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TaskFailure } from '../executors/task-failure.js';
import { resolveSecretRef } from './resolve.js';

describe('resolveSecretRef', () => {
  let dir: string;
  let registered: string[];
  const register = (value: string) => registered.push(value);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-secrets-'));
    registered = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    delete process.env.ATTACHE_TEST_SECRET;
  });

  async function failure(ref: string): Promise<TaskFailure> {
    const error = await resolveSecretRef(ref, register).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskFailure);
    const failure = error as TaskFailure;
    expect(failure.code).toBe('SECRET_UNRESOLVED');
    return failure;
  }

  it('reads env: references and registers the value', async () => {
    process.env.ATTACHE_TEST_SECRET = 's3cr3t-env-value';
    await expect(resolveSecretRef('env:ATTACHE_TEST_SECRET', register)).resolves.toBe('s3cr3t-env-value');
    expect(registered).toEqual(['s3cr3t-env-value']);
  });

  it('names a missing env: reference without any value', async () => {
    const f = await failure('env:ATTACHE_TEST_SECRET');
    expect(f.message).toContain('env:ATTACHE_TEST_SECRET');
    expect(f.details).toMatchObject({ reference: 'env:ATTACHE_TEST_SECRET', reason: 'not-set' });
    expect(registered).toEqual([]);
  });

  it('treats an empty env value as unresolved', async () => {
    process.env.ATTACHE_TEST_SECRET = '';
    const f = await failure('env:ATTACHE_TEST_SECRET');
    expect(f.details).toMatchObject({ reason: 'empty-value' });
  });

  it('re-reads file: references on every use and trims the trailing newline', async () => {
    const path = join(dir, 'key');
    await writeFile(path, 'first-value\n');
    await expect(resolveSecretRef(`file:${path}`, register)).resolves.toBe('first-value');
    await writeFile(path, 'second-value\r\n');
    await expect(resolveSecretRef(`file:${path}`, register)).resolves.toBe('second-value');
    expect(registered).toEqual(['first-value', 'second-value']);
  });

  it('keeps inner whitespace of file values', async () => {
    const path = join(dir, 'key');
    await writeFile(path, 'a b\nc\n\n');
    await expect(resolveSecretRef(`file:${path}`, register)).resolves.toBe('a b\nc');
  });

  it('names a missing file', async () => {
    const f = await failure(`file:${join(dir, 'absent')}`);
    expect(f.message).toContain(`file:${join(dir, 'absent')}`);
    expect(f.details).toMatchObject({ reason: 'not-found' });
  });

  it('rejects relative file paths', async () => {
    const f = await failure('file:relative/key');
    expect(f.details).toMatchObject({ reason: 'not-absolute' });
  });

  it('reports an unreadable file', async () => {
    // A directory cannot be read as a file even by root, unlike a chmod 000 file.
    const f = await failure(`file:${dir}`);
    expect(f.details).toMatchObject({ reason: 'unreadable' });
    expect(f.message).toContain('EISDIR');
  });

  it('treats an empty file as unresolved', async () => {
    const path = join(dir, 'empty');
    await writeFile(path, '\n');
    await chmod(path, 0o600);
    const f = await failure(`file:${path}`);
    expect(f.details).toMatchObject({ reason: 'empty-value' });
  });

  it('names an unsupported scheme', async () => {
    const f = await failure('vault:secret/data/aws');
    expect(f.message).toContain('vault:secret/data/aws');
    expect(f.details).toMatchObject({ reason: 'unsupported-scheme' });
  });

  it('does not echo, and masks, a value that is not a reference at all', async () => {
    const pasted = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const f = await failure(pasted);
    expect(f.message).not.toContain(pasted);
    expect(JSON.stringify(f.details)).not.toContain(pasted);
    expect(registered).toEqual([pasted]);
  });

  it('rejects an empty reference', async () => {
    const f = await failure('');
    expect(f.details).toMatchObject({ reason: 'empty-reference' });
  });
});
