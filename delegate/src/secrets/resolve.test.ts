import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TaskFailure } from '../executors/task-failure.js';
import { DelegatePolicy } from '../policy/delegate-policy.js';
import { resolveSecretRef, type RegisterSecret } from './resolve.js';

describe('resolveSecretRef', () => {
  let dir: string;
  let registered: string[];
  let register: RegisterSecret;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-secrets-'));
    registered = [];
    // The references these tests read, allowed as an installer would allow them.
    const policy = new DelegatePolicy({ allowRefs: ['env:RESOLVE_TEST_*', `file:${dir}/*`, 'file:relative/*'] });
    register = Object.assign((value: string) => void registered.push(value), { references: policy.references });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    delete process.env.RESOLVE_TEST_SECRET;
  });

  async function failure(ref: string): Promise<TaskFailure> {
    const error = await resolveSecretRef(ref, register, 'secretAccessKey').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskFailure);
    const failure = error as TaskFailure;
    expect(failure.code).toBe('SECRET_UNRESOLVED');
    return failure;
  }

  it('reads env: references and registers the value', async () => {
    process.env.RESOLVE_TEST_SECRET = 's3cr3t-env-value';
    await expect(resolveSecretRef('env:RESOLVE_TEST_SECRET', register, 'secretAccessKey')).resolves.toBe('s3cr3t-env-value');
    expect(registered).toEqual(['s3cr3t-env-value']);
  });

  it('names a missing env: reference without any value', async () => {
    const f = await failure('env:RESOLVE_TEST_SECRET');
    expect(f.message).toContain('env:RESOLVE_TEST_SECRET');
    expect(f.details).toMatchObject({ reference: 'env:RESOLVE_TEST_SECRET', reason: 'not-set' });
    expect(registered).toEqual([]);
  });

  it('treats an empty env value as unresolved', async () => {
    process.env.RESOLVE_TEST_SECRET = '';
    const f = await failure('env:RESOLVE_TEST_SECRET');
    expect(f.details).toMatchObject({ reason: 'empty-value' });
  });

  it('re-reads file: references on every use and trims the trailing newline', async () => {
    const path = join(dir, 'key');
    await writeFile(path, 'first-value\n');
    await expect(resolveSecretRef(`file:${path}`, register, 'secretAccessKey')).resolves.toBe('first-value');
    await writeFile(path, 'second-value\r\n');
    await expect(resolveSecretRef(`file:${path}`, register, 'secretAccessKey')).resolves.toBe('second-value');
    expect(registered).toEqual(['first-value', 'second-value']);
  });

  it('keeps inner whitespace of file values', async () => {
    const path = join(dir, 'key');
    await writeFile(path, 'a b\nc\n\n');
    await expect(resolveSecretRef(`file:${path}`, register, 'secretAccessKey')).resolves.toBe('a b\nc');
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

  it('reports a file it cannot read, naming the error', async () => {
    // A loop of links fails for root too, unlike a chmod 000 file.
    await symlink(join(dir, 'loop-b'), join(dir, 'loop-a'));
    await symlink(join(dir, 'loop-a'), join(dir, 'loop-b'));
    const f = await failure(`file:${join(dir, 'loop-a')}`);
    expect(f.details).toMatchObject({ reason: 'unreadable' });
    expect(f.message).toContain('ELOOP');
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
