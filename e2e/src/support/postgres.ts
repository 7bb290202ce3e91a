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
 * Imported by relative path from control-plane and e2e tests; it needs nothing but Node.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

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

  let child: ChildProcess | undefined;
  let log: string[] = [];

  async function launch(): Promise<void> {
    log = [];
    const proc = spawn(join(bin, 'postgres'), args, { ...asServer, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`PostgreSQL did not become ready within ${timeoutMs} ms`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (!line) continue;
          log.push(line);
          if (process.env['E2E_VERBOSE']) process.stderr.write(`[postgres] ${line}\n`);
          if (line.includes('database system is ready to accept connections')) {
            clearTimeout(timer);
            proc.off('exit', onExit);
            resolve();
          }
        }
      };
      const onExit = () => fail(new Error('PostgreSQL exited while starting'));
      function fail(err: Error) {
        clearTimeout(timer);
        proc.kill('SIGKILL');
        reject(new Error(`${err.message}. Last lines:\n${log.slice(-15).join('\n')}`));
      }
      proc.stdout?.on('data', onData);
      proc.stderr?.on('data', onData);
      proc.once('exit', onExit);
    });
  }

  /** SIGINT is PostgreSQL's "fast" shutdown: clients are disconnected, data is checkpointed. */
  async function halt(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGINT');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
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
      if (child) return;
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
      const proc = child;
      child = undefined;
      if (proc && proc.exitCode === null && proc.signalCode === null) {
        const exited = once(proc, 'exit');
        proc.kill('SIGQUIT');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
