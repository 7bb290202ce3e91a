import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { Proc } from './process.js';

export interface RedisServer {
  port: number;
  /** The running server process (for its log). */
  readonly proc: Proc;
  stop(): Promise<void>;
}

export interface StartRedisOptions {
  /**
   * Durability of the server. `none` (the default): no snapshot, no append-only file, so BullMQ's
   * numbers compare with a store that keeps nothing across a crash. `aof-everysec`: the
   * append-only file flushed to disk once a second, Redis' usual durable setting; a crash loses
   * at most the last second, which is closer to what our store promises.
   */
  persistence?: 'none' | 'aof-everysec';
}

/** Debian's redis-server on a free loopback port in a temp dir. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'attache-redis-'));
  const port = await freePort();
  const persistence = opts.persistence === 'aof-everysec' ? ['--appendonly', 'yes', '--appendfsync', 'everysec'] : ['--appendonly', 'no'];
  let proc: Proc;
  try {
    proc = await Proc.startUntil(
      `redis-server:${port}`,
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', ...persistence],
      (line) => line.includes('Ready to accept connections'),
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    proc,
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
