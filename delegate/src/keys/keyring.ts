import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { readKeyFile, writeNewKeyFile, type GroupKey } from './group-key.js';

/**
 * The group keys one delegate holds. The first key is the one it publishes as current (clients
 * seal new values to it); every key decrypts. Rotation is therefore: add the new key file in front,
 * roll the group, reseal the accounts the control plane lists under key-usage, then drop the old file.
 */
export class Keyring {
  private readonly byId = new Map<string, GroupKey>();
  readonly keys: readonly GroupKey[];

  constructor(keys: readonly GroupKey[]) {
    const unique: GroupKey[] = [];
    for (const key of keys) {
      if (this.byId.has(key.keyId)) continue;
      this.byId.set(key.keyId, key);
      unique.push(key);
    }
    this.keys = unique;
  }

  static empty(): Keyring {
    return new Keyring([]);
  }

  get(keyId: string): GroupKey | undefined {
    return this.byId.get(keyId);
  }

  get current(): GroupKey | undefined {
    return this.keys[0];
  }

  get keyIds(): string[] {
    return this.keys.map((k) => k.keyId);
  }
}

/** The file a delegate generates on first start when it is given a state dir but no key file. */
export const STATE_KEY_FILE = 'group-key.pem';

export interface KeyringSource {
  /** Key files, current first. */
  keyFiles?: readonly string[];
  /** Without key files: the key lives in (and is generated on first start into) this directory. */
  stateDir?: string;
  warn?: (message: string) => void;
}

/**
 * Loads the group keys. With neither key files nor a state dir the keyring is empty: the delegate
 * runs, and a task carrying a sealed value is never routed to it (it announces no key).
 */
export async function loadKeyring(source: KeyringSource): Promise<Keyring> {
  if (source.keyFiles && source.keyFiles.length > 0) {
    return new Keyring(await Promise.all(source.keyFiles.map((f) => readKeyFile(f, source.warn))));
  }
  if (source.stateDir === undefined) return Keyring.empty();
  const path = join(source.stateDir, STATE_KEY_FILE);
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  if (!exists) {
    try {
      return new Keyring([await writeNewKeyFile(path)]);
    } catch (err) {
      // Two replicas sharing a state dir both saw no key: the one that lost the race reads the winner's.
      if ((err as { cause?: NodeJS.ErrnoException }).cause?.code !== 'EEXIST') throw err;
    }
  }
  return new Keyring([await readKeyFile(path, source.warn)]);
}
