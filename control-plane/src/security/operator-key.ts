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

/**
 * What the person starting the control plane is told about a key generated for them. The key
 * itself only goes to a terminal (stderr when it is a TTY), once: stderr that is not a terminal is
 * usually a log collector, and a key in a log is a key for whoever reads logs. Otherwise the notice
 * says where the file is. Never part of the JSON log.
 */
export function operatorKeyNotice(key: string, file: string, terminal: boolean): string {
  return terminal
    ? `\nOperator key (shown once; also saved in ${file}, mode 0600):\n  ${key}\n\n`
    : `\nAn operator key was generated and saved in ${file} (mode 0600). It is not printed because this output is not a terminal; read it from that file.\n\n`;
}
