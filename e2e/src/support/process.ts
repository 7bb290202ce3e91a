import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** A child process whose output is kept (for assertions and for debugging a failed test). */
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
    this.exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  }

  static spawn(label: string, args: string[], env: Record<string, string>): Proc {
    const child = spawn(process.execPath, args, { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    return new Proc(child, label);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
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

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
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
