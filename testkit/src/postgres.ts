/**
 * A real PostgreSQL for tests, from Debian's binaries (`/usr/lib/postgresql/<version>/bin`): a fresh
 * cluster in a temporary directory, listening on a free 127.0.0.1 port (and a unix socket inside
 * that directory, so it never collides with a system cluster), with trust authentication for the
 * `postgres` role.
 *
 *   const pg = await startPostgres();
 *   const url = await pg.createDatabase('store_tests');   // or pg.url for the `postgres` database
 *   await pg.restart();                                    // same port, same data
 *   await pg.stop();                                       // kills the server, removes the directory
 *
 * Durability is traded for speed (fsync, synchronous_commit and full_page_writes off): the data
 * only has to survive a clean restart, never a power cut.
 *
 * Part of @attache/testkit; control-plane and e2e tests reach it through e2e/src/support/postgres.ts.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';
import { Proc } from './process.js';

const run = promisify(execFile);

export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:PORT/postgres`. */
  readonly url: string;
  readonly port: number;
  /** A new, empty database on this server; returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast shutdown) but keeps its data, port and directory: the database is "down". */
  halt(): Promise<void>;
  /** Starts a halted server again on the same port and data. */
  resume(): Promise<void>;
  /** halt() then resume(). */
  restart(): Promise<void>;
  /** Kills the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** How long to wait for "ready to accept connections"; default 30 s (initdb is slow on a busy CI box). */
  readonly startTimeoutMs?: number;
  /** Extra `-c name=value` server settings. */
  readonly settings?: Record<string, string>;
}

/** The newest installed major version's bin directory. Throws with the fix when none is installed. */
export function postgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new Error(`No PostgreSQL under ${root}: run scripts/install-test-deps.sh (Debian package "postgresql").`);
  }
  return join(root, newest, 'bin');
}

/**
 * initdb and postgres refuse to run as root. As root we run them as the `postgres` system user (or
 * `nobody` where the package did not create one) by setting uid/gid on the child process directly,
 * which keeps the server our own child: its pid is the postmaster's, and signals reach it.
 */
async function serverIdentity(): Promise<{ uid: number; gid: number } | undefined> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  for (const user of ['postgres', 'nobody']) {
    try {
      const uid = Number((await run('id', ['-u', user])).stdout.trim());
      const gid = Number((await run('id', ['-g', user])).stdout.trim());
      if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
    } catch {
      // no such user: try the next one
    }
  }
  throw new Error('Running as root, and neither a "postgres" nor a "nobody" user exists to run PostgreSQL as.');
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const identity = await serverIdentity();
  const dir = mkdtempSync(join(tmpdir(), 'attache-pg-'));
  const dataDir = join(dir, 'data');
  if (identity) chownSync(dir, identity.uid, identity.gid);
  // A minimal environment: initdb picks its locale from LANG/LC_*, and the caller's may name one
  // that is not installed.
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', HOME: dir };
  const asServer = { env, ...(identity ?? {}) };

  try {
    await run(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'], asServer);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr ?? String(err)}`, { cause: err });
  }

  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: dir,
    fsync: 'off',
    synchronous_commit: 'off',
    full_page_writes: 'off',
    // Several stores with pools of their own, plus replicas in e2e runs.
    max_connections: '300',
    ...opts.settings,
  };
  const args = ['-D', dataDir, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  const timeoutMs = opts.startTimeoutMs ?? 30_000;

  let proc: Proc | undefined;

  async function launch(): Promise<void> {
    proc = await Proc.startUntil('postgres', join(bin, 'postgres'), args, (line) => line.includes('database system is ready to accept connections'), {
      ...asServer,
      timeoutMs,
    });
  }

  /** SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected, data is checkpointed. */
  async function halt(): Promise<void> {
    const running = proc;
    proc = undefined;
    await running?.stop(10_000, 'SIGINT');
  }

  try {
    await launch();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    url,
    port,
    async createDatabase(name: string): Promise<string> {
      await run(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', name], { env });
      return `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(name)}`;
    },
    halt,
    async resume(): Promise<void> {
      if (stopped) throw new Error('PostgreSQL was stopped for good; start a new one');
      if (proc) return;
      await launch();
    },
    async restart(): Promise<void> {
      await halt();
      await launch();
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      // Immediate shutdown: nothing is kept, so there is nothing to checkpoint.
      const running = proc;
      proc = undefined;
      await running?.stop(5_000, 'SIGQUIT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
