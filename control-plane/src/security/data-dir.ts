import { chmod, lstat, mkdir, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { reasonOf, StartupError } from '../startup-error.js';

/** Deep enough for what lives there (the local delegate's state dir is one level down). */
const MAX_DEPTH = 4;

/**
 * The data dir holds the SQLite database (tenants' account descriptions, key hashes), the
 * generated operator key and, with `npm start`, the local tenant's key and delegate token: only
 * the user running the control plane may read it. Creates it 0700, and brings a directory that
 * existed before (with wider modes, from an older version or a careless `mkdir`) and everything in
 * it down to 0700 for directories and 0600 for files. Symbolic links are left alone: chmod would
 * act on whatever they point to.
 */
export async function secureDataDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
    throw new StartupError('ATTACHE_DATA_DIR', `Cannot create the data directory ${dir} (ATTACHE_DATA_DIR): ${reasonOf(err)}.`, { cause: err });
  });
  await tighten(dir, 0);
}

async function tighten(path: string, depth: number): Promise<void> {
  const st = await lstat(path);
  if (st.isSymbolicLink()) return;
  const mode = st.isDirectory() ? 0o700 : 0o600;
  if ((st.mode & 0o777) !== mode) {
    try {
      await chmod(path, mode);
    } catch (err) {
      throw new StartupError(
        'ATTACHE_DATA_DIR',
        `Cannot restrict ${path} to mode ${mode.toString(8)} (${(err as Error).message}); the data dir (ATTACHE_DATA_DIR) and its files must belong to the user running the control plane.`,
        { cause: err },
      );
    }
  }
  if (st.isDirectory() && depth < MAX_DEPTH) {
    for (const entry of await readdir(path)) await tighten(join(path, entry), depth + 1);
  }
}

/**
 * Creates `file` empty with mode 0600 if it does not exist. SQLite gives the -wal and -shm files it
 * creates the mode of the database file, so creating the database this way keeps all three private
 * whatever the process umask is.
 */
export async function createPrivateFile(file: string): Promise<void> {
  const handle = await open(file, 'a', 0o600);
  await handle.close();
  await chmod(file, 0o600);
}
