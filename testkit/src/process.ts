import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { once } from 'node:events';

/**
 * A child process whose output is kept (for assertions and for debugging a failed test). The one
 * launcher for everything tests and benchmarks start: our own processes (`Proc.spawn`) and the
 * servers beside them (`Proc.start`: moto_server, PostgreSQL, nats-server, redis-server).
 */
export class Proc {
  readonly lines: string[] = [];
  private readonly listeners = new Set<(line: string) => void>();
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess, readonly label: string) {
    const emit = (line: string) => {
      if (!line) return;
      this.lines.push(line);
      for (const l of this.listeners) l(line);
      if (process.env['E2E_VERBOSE']) process.stderr.write(`[${label}] ${line}\n`);
    };
    // A pipe delivers chunks, not lines: on a busy machine one log line can arrive in two chunks,
    // and splitting each chunk on its own would turn it into two fragments that match nothing.
    const lineReader = () => {
      let partial = '';
      return {
        data: (chunk: string) => {
          const parts = (partial + chunk).split('\n');
          partial = parts.pop() ?? '';
          for (const line of parts) emit(line);
        },
        end: () => {
          emit(partial);
          partial = '';
        },
      };
    };
    for (const stream of [child.stdout, child.stderr]) {
      if (!stream) continue;
      const reader = lineReader();
      // Decoded as a stream, so a character split across chunks is not mangled either.
      stream.setEncoding('utf8');
      stream.on('data', reader.data);
      stream.on('end', reader.end);
    }
    // A command that cannot be run (ENOENT) emits 'error' and never 'exit': it has exited all the same.
    this.exited = Promise.race([
      once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null })),
      once(child, 'error').then(([error]) => {
        this.spawnError = error as Error;
        this.lines.push(`could not run: ${(error as Error).message}`);
        return { code: null, signal: null };
      }),
    ]);
  }

  /** Why the command could not be started at all, once `exited` has resolved that way. */
  spawnError: Error | undefined;

  static spawn(label: string, args: string[], env: Record<string, string>): Proc {
    const child = spawn(process.execPath, args, { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Proc(child, label);
  }

  /**
   * Any command (a server beside ours), its stdout and stderr kept as lines. `options` are
   * spawn's, for the environment and the user to run as; stdio is always piped.
   */
  static start(label: string, command: string, args: string[], options: Omit<SpawnOptions, 'stdio'> = {}): Proc {
    return new Proc(spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] }), label);
  }

  /**
   * Starts `command` and resolves once it prints a line that matches `ready`; when it exits or
   * stays silent first, stops it and rejects with the last lines it printed.
   */
  static async startUntil(
    label: string,
    command: string,
    args: string[],
    ready: (line: string) => boolean,
    options: Omit<SpawnOptions, 'stdio'> & { timeoutMs?: number } = {},
  ): Promise<Proc> {
    const { timeoutMs = 20_000, ...spawnOptions } = options;
    const proc = Proc.start(label, command, args, spawnOptions);
    try {
      await proc.waitForLine(ready, timeoutMs);
      return proc;
    } catch (err) {
      await proc.stop(1_000, 'SIGKILL');
      throw err;
    }
  }

  get running(): boolean {
    return this.spawnError === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Resolves with the first line (past or future) that matches. */
  waitForLine(match: (line: string) => boolean, timeoutMs = 20_000): Promise<string> {
    const found = this.lines.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        reject(new Error(`${this.label}: no matching output within ${timeoutMs} ms. Last lines:\n${this.lines.slice(-15).join('\n')}`));
      }, timeoutMs);
      const listener = (line: string) => {
        if (!match(line)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        resolve(line);
      };
      this.listeners.add(listener);
      void this.exited.then(() => {
        if (!this.listeners.has(listener)) return;
        clearTimeout(timer);
        this.listeners.delete(listener);
        reject(new Error(`${this.label} exited before the expected output. Last lines:\n${this.lines.slice(-15).join('\n')}`));
      });
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (this.running) this.child.kill(signal);
  }

  /** `signal` (SIGTERM unless told), then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (!this.running) return;
    this.child.kill(signal);
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export function jsonLines(proc: Proc): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of proc.lines) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // Not a log line.
    }
  }
  return out;
}
