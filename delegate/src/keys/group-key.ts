import { keyIdOf, SEALING_ALGORITHM } from '@attache/proto/sealed-value';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { newRawKeyPair, rawPrivateKeyOf, rawPublicKeyOf } from '@attache/proto';
import { chmod, mkdir, open, readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * A delegate group's key pair for sealed secrets. The private key is an X25519 key in a PKCS#8 PEM
 * file (the format `openssl genpkey -algorithm X25519` writes, so operators can create, inspect and
 * store it with the tools they already have, e.g. as a Kubernetes secret); the public key is what
 * clients seal to and what travels in `Hello.public_keys`.
 */
export interface GroupKey {
  /** First 16 hex digits of SHA-256 over the raw public key: short enough to route on, long enough not to collide by chance. */
  readonly keyId: string;
  /** The HPKE suite sealed values use with this key (see secrets/sealed.ts). */
  readonly algorithm: string;
  /** Raw 32-byte X25519 public key. */
  readonly publicKey: Uint8Array;
  /** Raw 32-byte X25519 private key; never logged, never sent. */
  readonly privateKey: Uint8Array;
  /** Where it was loaded from, for messages. */
  readonly source: string;
}

/** The suite and the key id are defined beside sealing itself, which clients share. */
export { keyIdOf, SEALING_ALGORITHM };

/** A key file that cannot be used; the message names the file and what to do. */
export class KeyFileError extends Error {
  readonly path: string;
  constructor(path: string, message: string, options?: { cause?: unknown }) {
    super(`${path}: ${message}`, options);
    this.name = 'KeyFileError';
    this.path = path;
  }
}

/** Raw X25519 public key from a PEM (SPKI) public key or private key. */
export function rawPublicKey(key: KeyObject): Uint8Array {
  if (key.asymmetricKeyType !== 'x25519') throw new Error(`expected an X25519 key, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return rawPublicKeyOf(key);
}

function groupKeyFrom(key: KeyObject, source: string): GroupKey {
  if (key.asymmetricKeyType !== 'x25519' || key.type !== 'private') {
    throw new KeyFileError(source, `holds a ${key.asymmetricKeyType ?? 'non-asymmetric'} key; a group key must be X25519 (attache-delegate keygen)`);
  }
  // DER, not JWK: see raw-key-pair.ts in @attache/proto.
  const publicKey = Buffer.from(rawPublicKeyOf(key));
  return { keyId: keyIdOf(publicKey), algorithm: SEALING_ALGORITHM, publicKey, privateKey: Buffer.from(rawPrivateKeyOf(key)), source };
}

/** A fresh key pair, in memory. */
export function generateGroupKey(): { key: GroupKey; pem: string } {
  const { privateKey } = newRawKeyPair('x25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { key: groupKeyFrom(privateKey, '(generated)'), pem };
}

/**
 * Writes a new key pair to `path` with mode 0600 and returns it. Refuses to overwrite: replacing a
 * group key by accident would make every value sealed to it unreadable.
 */
export async function writeNewKeyFile(path: string): Promise<GroupKey> {
  const { key, pem } = generateGroupKey();
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new KeyFileError(path, 'already exists; a group key is never overwritten (move it away first if you really mean to replace it)', { cause: err });
    throw new KeyFileError(path, `cannot be created (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  try {
    await handle.writeFile(pem);
    // The umask may have narrowed the mode further, never widened it; set it exactly anyway.
    await chmod(path, 0o600);
  } finally {
    await handle.close();
  }
  return { ...key, source: path };
}

/** Reads a PEM X25519 private key. `warn` hears about a file that others could read. */
export async function readKeyFile(path: string, warn?: (message: string) => void): Promise<GroupKey> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new KeyFileError(path, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new KeyFileError(path, 'holds no PEM private key (expected the output of attache-delegate keygen)', { cause: err });
  }
  // Kubernetes mounts secrets 0644 by default (readable only inside the pod), so this is a warning, not a refusal.
  if (warn) {
    const mode = (await stat(path)).mode & 0o777;
    if ((mode & 0o077) !== 0) warn(`${path} has mode ${mode.toString(8).padStart(4, '0')}; 0600 keeps other local users from reading the group key`);
  }
  return groupKeyFrom(key, path);
}
