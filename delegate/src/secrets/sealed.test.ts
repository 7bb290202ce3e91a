import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TaskFailure } from '../executors/task-failure.js';
import { generateGroupKey, readKeyFile, writeNewKeyFile } from '../keys/group-key.js';
import { Keyring, loadKeyring, STATE_KEY_FILE } from '../keys/keyring.js';
import { resolveSecretRef, type RegisterSecret } from './resolve.js';
import { openSealed, parseSealed, sealValue, type SealBinding } from './sealed.js';

const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const binding: SealBinding = { tenantId: 'ten_a', accountId: 'acc_prod', field: 'secretAccessKey' };

async function failure(promise: Promise<unknown>): Promise<TaskFailure> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TaskFailure);
  const f = error as TaskFailure;
  // Whatever went wrong, nothing of the secret is in what leaves the delegate.
  expect(JSON.stringify({ m: f.message, d: f.details })).not.toContain(SECRET);
  return f;
}

describe('sealed values', () => {
  const groupA = generateGroupKey().key;
  const groupB = generateGroupKey().key;
  const ringA = new Keyring([groupA]);
  const ringB = new Keyring([groupB]);

  it('opens on the group it was sealed to, for the same tenant, account and field', async () => {
    const sealed = await sealValue(groupA.publicKey, groupA.keyId, SECRET, binding);
    expect(sealed).toMatch(/^sealed:v1:[0-9a-f]{16}:[A-Za-z0-9_-]+:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(SECRET);
    expect(parseSealed(sealed)?.keyId).toBe(groupA.keyId);
    await expect(openSealed(sealed, ringA, binding)).resolves.toBe(SECRET);
  });

  it('group B cannot open a value sealed for group A: SEALED_KEY_UNKNOWN naming the key', async () => {
    const sealed = await sealValue(groupA.publicKey, groupA.keyId, SECRET, binding);
    const f = await failure(openSealed(sealed, ringB, binding));
    expect(f.code).toBe('SEALED_KEY_UNKNOWN');
    expect(f.message).toContain(groupA.keyId);
    expect(f.details).toMatchObject({ keyId: groupA.keyId, heldKeyIds: [groupB.keyId] });
  });

  it('group B cannot open it even when the envelope is relabelled with its key id', async () => {
    const sealed = await sealValue(groupA.publicKey, groupA.keyId, SECRET, binding);
    const relabelled = sealed.replace(groupA.keyId, groupB.keyId);
    expect((await failure(openSealed(relabelled, ringB, binding))).code).toBe('SEALED_VALUE_INVALID');
  });

  it('tampered ciphertext fails with SEALED_VALUE_INVALID', async () => {
    const sealed = await sealValue(groupA.publicKey, groupA.keyId, SECRET, binding);
    const parts = sealed.split(':');
    const ct = Buffer.from(parts[4]!, 'base64url');
    ct[0] = ct[0]! ^ 0x01;
    parts[4] = ct.toString('base64url');
    const f = await failure(openSealed(parts.join(':'), ringA, binding));
    expect(f.code).toBe('SEALED_VALUE_INVALID');
    expect(f.details).toMatchObject({ reason: 'authentication-failed' });
  });

  it('a tampered encapsulated key fails with SEALED_VALUE_INVALID', async () => {
    const sealed = await sealValue(groupA.publicKey, groupA.keyId, SECRET, binding);
    const parts = sealed.split(':');
    const enc = Buffer.from(parts[3]!, 'base64url');
    enc[5] = enc[5]! ^ 0x80;
    parts[3] = enc.toString('base64url');
    expect((await failure(openSealed(parts.join(':'), ringA, binding))).code).toBe('SEALED_VALUE_INVALID');
  });

  it.each([
    ['another tenant', { ...binding, tenantId: 'ten_b' }],
    ['another account', { ...binding, accountId: 'acc_dev' }],
    ['another field', { ...binding, field: 'accessKeyId' }],
  ])('wrong associated data (%s) fails with SEALED_VALUE_INVALID', async (_what, other) => {
    const sealed = await sealValue(groupA.publicKey, groupA.keyId, SECRET, binding);
    const f = await failure(openSealed(sealed, ringA, other));
    expect(f.code).toBe('SEALED_VALUE_INVALID');
    expect(f.message).toContain(other.field);
  });

  it('a stale key id (rotated away) fails with SEALED_KEY_UNKNOWN; during rotation both keys open', async () => {
    const old = generateGroupKey().key;
    const fresh = generateGroupKey().key;
    const sealedOld = await sealValue(old.publicKey, old.keyId, SECRET, binding);
    const rotating = new Keyring([fresh, old]);
    expect(rotating.current?.keyId).toBe(fresh.keyId);
    await expect(openSealed(sealedOld, rotating, binding)).resolves.toBe(SECRET);
    const f = await failure(openSealed(sealedOld, new Keyring([fresh]), binding));
    expect(f.code).toBe('SEALED_KEY_UNKNOWN');
    expect(f.message).toContain(old.keyId);
  });

  it('a malformed envelope fails with SEALED_VALUE_INVALID', async () => {
    for (const ref of ['sealed:v1:nothex:abc:def', 'sealed:v2:0123456789abcdef:AAAA:BBBB', 'sealed:v1:0123456789abcdef:AAAA']) {
      expect((await failure(openSealed(ref, ringA, binding))).code).toBe('SEALED_VALUE_INVALID');
    }
  });

  it('resolveSecretRef opens sealed references with the scope and field, and registers the value for masking', async () => {
    const sealed = await sealValue(groupA.publicKey, groupA.keyId, SECRET, binding);
    const registered: string[] = [];
    const register: RegisterSecret = Object.assign((v: string) => void registered.push(v), {
      sealed: { keyring: ringA, tenantId: binding.tenantId, accountId: binding.accountId },
    });
    await expect(resolveSecretRef(sealed, register, 'secretAccessKey')).resolves.toBe(SECRET);
    expect(registered).toEqual([SECRET]);
    // Without a scope (a task type that does not support sealed values) it is refused, not opened.
    const f = await failure(resolveSecretRef(sealed, (v: string) => void registered.push(v), 'secretAccessKey'));
    expect(f.code).toBe('SECRET_UNRESOLVED');
    expect(f.details).toMatchObject({ reason: 'sealed-not-supported' });
    // Moved into another field, it does not open.
    expect((await failure(resolveSecretRef(sealed, register, 'accessKeyId'))).code).toBe('SEALED_VALUE_INVALID');
  });
});

describe('group key files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-keys-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('keygen writes a 0600 file that reads back to the same key and is never overwritten', async () => {
    const path = join(dir, 'k.pem');
    const written = await writeNewKeyFile(path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const read = await readKeyFile(path);
    expect(read.keyId).toBe(written.keyId);
    expect(Buffer.from(read.publicKey).equals(Buffer.from(written.publicKey))).toBe(true);
    await expect(writeNewKeyFile(path)).rejects.toThrow(/already exists/);
  });

  it('a state dir gets a key on first start and keeps it', async () => {
    const first = await loadKeyring({ stateDir: dir });
    expect((await stat(join(dir, STATE_KEY_FILE))).mode & 0o777).toBe(0o600);
    const second = await loadKeyring({ stateDir: dir });
    expect(second.keyIds).toEqual(first.keyIds);
  });

  it('several key files: the first is current, all are held', async () => {
    const a = await writeNewKeyFile(join(dir, 'new.pem'));
    const b = await writeNewKeyFile(join(dir, 'old.pem'));
    const ring = await loadKeyring({ keyFiles: [join(dir, 'new.pem'), join(dir, 'old.pem')], stateDir: dir });
    expect(ring.keyIds).toEqual([a.keyId, b.keyId]);
  });
});
