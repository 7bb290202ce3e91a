import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KEY_PREFIX, newSecret } from './secrets.js';

/**
 * The operator key: from ATTACHE_OPERATOR_KEY, else read from (or generated into) the data dir with
 * mode 0600. `generated` tells the caller to show it once.
 */
export async function loadOperatorKey(dataDir: string, fromEnv: string | undefined): Promise<{ key: string; generated: boolean; file: string | null }> {
  if (fromEnv) return { key: fromEnv, generated: false, file: null };
  const file = join(dataDir, 'operator.key');
  try {
    const key = (await readFile(file, 'utf8')).trim();
    if (key.length >= 24) return { key, generated: false, file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = newSecret(KEY_PREFIX.operator);
  await writeFile(file, `${key}\n`, { mode: 0o600, flag: 'wx' });
  return { key, generated: true, file };
}
