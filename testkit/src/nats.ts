import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { Proc } from './process.js';

export interface NatsHandle {
  /** nats://127.0.0.1:<port> */
  url: string;
  port: number;
  /** Stops the server for good and removes its store directory. */
  stop(): Promise<void>;
  /** Stops the server (SIGTERM) and starts it again on the same port, config and store. */
  restart(): Promise<void>;
  /** The running server process (for its log). */
  readonly proc: Proc;
}

/**
 * Starts Debian's `nats-server` on a free 127.0.0.1 port with JetStream and a temporary store.
 * `config` is nats-server configuration text (e.g. operator mode with a memory resolver); the port,
 * address and store directory are always set on the command line so tests never collide.
 */
export async function startNats(opts: { config?: string } = {}): Promise<NatsHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'attache-nats-'));
  const port = await freePort();
  const args = ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', join(dir, 'js')];
  if (opts.config !== undefined) {
    const file = join(dir, 'nats.conf');
    await writeFile(file, opts.config, { mode: 0o600 });
    args.push('-c', file);
  }
  const launch = (): Promise<Proc> => Proc.startUntil(`nats-server:${port}`, 'nats-server', args, (l) => l.includes('Server is ready'));
  let proc = await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    get proc() {
      return proc;
    },
    async restart() {
      await proc.stop();
      proc = await launch();
    },
    async stop() {
      await proc.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
