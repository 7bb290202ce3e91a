import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TaskFailure } from '../executors/task-failure.js';
import { resolveSecretRef, type RegisterSecret } from '../secrets/resolve.js';
import type { SecretField } from './secret-fields.js';
import { DelegatePolicy, type DelegatePolicyOptions } from './delegate-policy.js';

const TOKEN = 'atd_policy_test_token_0123456789';

describe('the reference policy, as resolveSecretRef applies it', () => {
  let dir: string;
  let registered: string[];
  const envSet: string[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-policy-'));
    registered = [];
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
    for (const name of envSet.splice(0)) delete process.env[name];
  });

  function setEnv(name: string, value: string): void {
    envSet.push(name);
    process.env[name] = value;
  }

  function secrets(options: DelegatePolicyOptions): RegisterSecret {
    const policy = new DelegatePolicy({ token: TOKEN, ...options });
    return Object.assign((value: string) => void registered.push(value), { references: policy.references });
  }

  async function refusal(ref: string, register: RegisterSecret, field: SecretField = 'secretAccessKey'): Promise<TaskFailure> {
    const error = await resolveSecretRef(ref, register, field).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TaskFailure);
    return error as TaskFailure;
  }

  async function notAllowed(ref: string, register: RegisterSecret, reason: string, field?: SecretField): Promise<TaskFailure> {
    const f = await refusal(ref, register, field);
    expect(f.code).toBe('SECRET_NOT_ALLOWED');
    expect(f.details).toMatchObject({ reference: ref, setting: 'ATTACHE_ALLOW_REFS', reason });
    expect(f.message).toContain(ref);
    expect(f.message).toContain('ATTACHE_ALLOW_REFS');
    return f;
  }

  it('by default resolves env:AWS_* and nothing else from the environment', async () => {
    setEnv('AWS_POLICY_TEST_SECRET', 'aws-secret-value');
    setEnv('DB_PASSWORD_POLICY_TEST', 'db-password-value');
    const register = secrets({});
    await expect(resolveSecretRef('env:AWS_POLICY_TEST_SECRET', register, 'secretAccessKey')).resolves.toBe('aws-secret-value');
    const f = await notAllowed('env:DB_PASSWORD_POLICY_TEST', register, 'not-in-policy');
    expect(f.message).toContain('env:AWS_*');
    expect(`${f.message}${JSON.stringify(f.details)}`).not.toContain('db-password-value');
    expect(registered).toEqual(['aws-secret-value']);
  });

  it('never resolves env:ATTACHE_* or the container token variable, even when the patterns allow everything', async () => {
    setEnv('ATTACHE_POLICY_TEST', 'x');
    setEnv('AWS_CONTAINER_AUTHORIZATION_TOKEN', 'pod-token');
    const register = secrets({ allowRefs: ['env:*'] });
    await notAllowed('env:ATTACHE_TOKEN', register, 'reserved');
    await notAllowed('env:ATTACHE_POLICY_TEST', register, 'reserved');
    await notAllowed('env:AWS_CONTAINER_AUTHORIZATION_TOKEN', register, 'reserved');
    expect(registered).toEqual([]);
  });

  it("refuses a value that holds the delegate's own token, without echoing it", async () => {
    setEnv('AWS_COPY_OF_TOKEN', TOKEN);
    await writeFile(join(dir, 'wrapped'), `token=${TOKEN}\n`);
    const register = secrets({ allowRefs: ['env:AWS_*', `file:${dir}/*`] });
    for (const ref of ['env:AWS_COPY_OF_TOKEN', `file:${join(dir, 'wrapped')}`]) {
      const f = await notAllowed(ref, register, 'reserved');
      expect(`${f.message}${JSON.stringify(f.details)}`).not.toContain(TOKEN);
    }
  });

  it('reserves its key files, state directory and CA file, also reached through a link', async () => {
    const keyFile = join(dir, 'key.pem');
    const stateDir = join(dir, 'state');
    const caFile = join(dir, 'ca.pem');
    await mkdir(stateDir);
    await Promise.all([writeFile(keyFile, 'k'), writeFile(join(stateDir, 'group-key.pem'), 's'), writeFile(caFile, 'c'), writeFile(join(dir, 'ok'), 'fine')]);
    await symlink(keyFile, join(dir, 'innocent-looking'));
    const register = secrets({ allowRefs: [`file:${dir}/*`], keyFiles: [keyFile], stateDir, caFile });
    await expect(resolveSecretRef(`file:${join(dir, 'ok')}`, register, 'secretAccessKey')).resolves.toBe('fine');
    await notAllowed(`file:${keyFile}`, register, 'reserved');
    await notAllowed(`file:${join(stateDir, 'group-key.pem')}`, register, 'reserved');
    await notAllowed(`file:${stateDir}/../state/./group-key.pem`, register, 'reserved');
    await notAllowed(`file:${caFile}`, register, 'reserved');
    await notAllowed(`file:${join(dir, 'innocent-looking')}`, register, 'reserved');
  });

  it('reserves service-account tokens, the files the web identity variables name, /proc, /sys and /dev', async () => {
    const tokenFile = join(dir, 'web-identity-token');
    await writeFile(tokenFile, 'eyJ...');
    setEnv('AWS_WEB_IDENTITY_TOKEN_FILE', tokenFile);
    const register = secrets({ allowRefs: ['file:/*'] });
    for (const ref of [
      'file:/var/run/secrets/kubernetes.io/serviceaccount/token',
      'file:/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      'file:/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token',
      `file:${tokenFile}`,
      'file:/proc/self/environ',
      'file:/sys/kernel/notes',
      'file:/dev/zero',
      'file:/etc/../proc/self/environ',
    ]) {
      await notAllowed(ref, register, 'reserved');
    }
  });

  it('catches reserved places under another name of the same directory (as /run is for /var/run)', async () => {
    await mkdir(join(dir, 'real-run', 'state'), { recursive: true });
    await writeFile(join(dir, 'real-run', 'state', 'group-key.pem'), 'k');
    await symlink(join(dir, 'real-run'), join(dir, 'var-run'));
    const register = secrets({ allowRefs: [`file:${dir}/real-run/*`], stateDir: join(dir, 'var-run', 'state') });
    await notAllowed(`file:${dir}/real-run/state/group-key.pem`, register, 'reserved');
    // And for a reserved place that does not exist: refused without looking the reference up.
    await notAllowed(`file:${dir}/real-run/state/not-yet`, register, 'reserved');
  });

  it('folds .. before matching, so a reference cannot climb out of an allowed directory', async () => {
    await mkdir(join(dir, 'allowed'));
    await writeFile(join(dir, 'outside'), 'not for you');
    const register = secrets({ allowRefs: [`file:${dir}/allowed/*`] });
    await notAllowed(`file:${dir}/allowed/../outside`, register, 'not-in-policy');
    expect(registered).toEqual([]);
  });

  it('follows a link only when its target is allowed too', async () => {
    await mkdir(join(dir, 'allowed'));
    await writeFile(join(dir, 'outside'), 'not for you');
    await symlink(join(dir, 'outside'), join(dir, 'allowed', 'escape'));
    await symlink('/etc/hostname', join(dir, 'allowed', 'hostname'));
    const register = secrets({ allowRefs: [`file:${dir}/allowed/*`] });
    await notAllowed(`file:${dir}/allowed/escape`, register, 'not-in-policy');
    await notAllowed(`file:${dir}/allowed/hostname`, register, 'not-in-policy');
    expect(registered).toEqual([]);
  });

  it('reads a Kubernetes secret volume, whose keys are links through ..data into a timestamped directory', async () => {
    const mount = join(dir, 'aws');
    await mkdir(join(mount, '..2026_12_01_20_00_00.123456789'), { recursive: true });
    await writeFile(join(mount, '..2026_12_01_20_00_00.123456789', 'secret-access-key'), 'k8s-secret-value\n');
    await writeFile(join(mount, '..2026_12_01_20_00_00.123456789', 'access-key-id'), 'AKIAK8SVOLUMEEXAMPLE\n');
    await symlink('..2026_12_01_20_00_00.123456789', join(mount, '..data'));
    await symlink('..data/secret-access-key', join(mount, 'secret-access-key'));
    await symlink('..data/access-key-id', join(mount, 'access-key-id'));
    const register = secrets({ allowRefs: [`file:${mount}/*`] });
    await expect(resolveSecretRef(`file:${mount}/secret-access-key`, register, 'secretAccessKey')).resolves.toBe('k8s-secret-value');
    await expect(resolveSecretRef(`file:${mount}/access-key-id`, register, 'accessKeyId')).resolves.toBe('AKIAK8SVOLUMEEXAMPLE');
  });

  it('matches a real path against a pattern whose directory is reached through a link (as /var/run is on most hosts)', async () => {
    await mkdir(join(dir, 'real-run', 'attache'), { recursive: true });
    await writeFile(join(dir, 'real-run', 'attache', 'key'), 'through-the-link');
    await symlink(join(dir, 'real-run'), join(dir, 'var-run'));
    const register = secrets({ allowRefs: [`file:${dir}/var-run/attache/*`] });
    await expect(resolveSecretRef(`file:${dir}/var-run/attache/key`, register, 'secretAccessKey')).resolves.toBe('through-the-link');
    // The same file under its real name is not what the pattern names.
    await notAllowed(`file:${dir}/real-run/attache/key`, register, 'not-in-policy');
  });

  it('says the same about a refused path whether or not it exists: no existence oracle', async () => {
    await writeFile(join(dir, 'exists'), 'x');
    const register = secrets({ allowRefs: ['file:/nowhere/*'] });
    const present = await notAllowed(`file:${join(dir, 'exists')}`, register, 'not-in-policy');
    const absent = await notAllowed(`file:${join(dir, 'absent')}`, register, 'not-in-policy');
    expect(present.message.replace('exists', 'X')).toBe(absent.message.replace('absent', 'X'));
    expect(present.cause).toBeUndefined();
    expect(absent.cause).toBeUndefined();
  });

  it('applies the field rule to env and file names, and resolves sealed-only with "none"', async () => {
    setEnv('AWS_SECRET_ACCESS_KEY', 'the-secret-key');
    setEnv('AWS_ACCESS_KEY_ID', 'AKIAFIELDRULEEXAMPL');
    const register = secrets({});
    await notAllowed('env:AWS_SECRET_ACCESS_KEY', register, 'field-not-allowed', 'accessKeyId');
    await notAllowed('env:AWS_SECRET_ACCESS_KEY', register, 'field-not-allowed', 'sessionToken');
    await expect(resolveSecretRef('env:AWS_ACCESS_KEY_ID', register, 'accessKeyId')).resolves.toBe('AKIAFIELDRULEEXAMPL');
    expect(registered).not.toContain('the-secret-key');
    await notAllowed('env:AWS_ACCESS_KEY_ID', secrets({ allowRefs: [] }), 'not-in-policy', 'accessKeyId');
  });

  it('refuses a FIFO and a device without hanging, and names the kind', async () => {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const register = secrets({ allowRefs: [`file:${dir}/*`] });
    const f = await refusal(`file:${fifo}`, register);
    expect(f.code).toBe('SECRET_UNRESOLVED');
    expect(f.details).toMatchObject({ reference: `file:${fifo}`, reason: 'not-regular-file' });
    expect(f.message).toContain('named pipe');
    const d = await refusal(`file:${dir}`, secrets({ allowRefs: [`file:${dir}*`] }));
    expect(d.details).toMatchObject({ reason: 'not-regular-file' });
    expect(d.message).toContain('directory');
  });

  it('refuses a file over 64 KiB', async () => {
    await writeFile(join(dir, 'big'), Buffer.alloc(65 * 1024, 0x41));
    await writeFile(join(dir, 'limit'), Buffer.alloc(64 * 1024, 0x41));
    const register = secrets({ allowRefs: [`file:${dir}/*`] });
    const f = await refusal(`file:${join(dir, 'big')}`, register);
    expect(f.code).toBe('SECRET_UNRESOLVED');
    expect(f.details).toMatchObject({ reason: 'too-large' });
    expect(f.message).toContain('64 KiB');
    await expect(resolveSecretRef(`file:${join(dir, 'limit')}`, register, 'secretAccessKey')).resolves.toHaveLength(64 * 1024);
  });
});
