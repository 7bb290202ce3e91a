import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { withTimeout } from './agents.js';
import type { FleetCommand, FleetReport, FleetShard } from './fleet-protocol.js';

/** A `FleetShard` for the whole fleet (each child's keepalive offset is derived), and how many children. */
export interface ProcessFleetOptions extends Omit<FleetShard, 'keepaliveOffset'> {
  /** Child processes the delegates are spread over, each with its own event loop and clients. */
  workers: number;
}

/**
 * Simulated delegates spread over several child processes (fleet-worker.ts), so that 10,000
 * grpc-js, ws or NATS clients do not share one event loop: what the connections section then
 * measures is the control plane, not the bench's own client side.
 */
export class ProcessFleet {
  private constructor(private readonly children: readonly Child[]) {}

  /** Starts the child processes and waits until each has loaded; no delegate connects yet. */
  static async spawn(opts: ProcessFleetOptions): Promise<ProcessFleet> {
    const workers = Math.max(1, Math.min(opts.workers, opts.count));
    const children: Child[] = [];
    let offset = 0;
    for (let w = 0; w < workers; w++) {
      const count = Math.floor(opts.count / workers) + (w < opts.count % workers ? 1 : 0);
      const shard: FleetShard = { url: opts.url, token: opts.token, name: opts.name, count, tags: opts.tags, maxConcurrency: opts.maxConcurrency, startBatch: opts.startBatch, keepaliveOffset: offset };
      offset += count;
      children.push(new Child(w, shard));
    }
    const fleet = new ProcessFleet(children);
    await fleet.settle(children.map((c) => c.waitFor('ready')));
    return fleet;
  }

  /** Starts every delegate of every child; resolves once all have been welcomed. */
  async connect(): Promise<void> {
    await this.settle(this.children.map((c) => c.request({ kind: 'start', shard: c.shard }, 'registered')));
  }

  private async settle(steps: Array<Promise<void>>): Promise<void> {
    try {
      await Promise.all(steps);
    } catch (err) {
      this.kill();
      throw err;
    }
  }

  /** Resolves when every delegate of every child has registered again (armed before the loss). */
  async allRegisteredAgain(): Promise<() => Promise<void>> {
    const back = this.children.map((c) => c.waitFor('back'));
    for (const b of back) b.catch(() => undefined);
    await Promise.all(this.children.map((c) => c.request({ kind: 'arm' }, 'armed')));
    return async () => {
      await Promise.all(back);
    };
  }

  /** Stops every delegate; a child that has not stopped within 30 s is killed, so a stop never hangs the bench. */
  async stop(): Promise<void> {
    const stopped = Promise.all(this.children.map((c) => c.request({ kind: 'stop' }, 'stopped').catch(() => undefined)));
    await withTimeout(stopped, 30_000, 'the fleet to stop').catch(() => undefined);
    this.kill();
  }

  private kill(): void {
    for (const c of this.children) c.kill();
  }
}

class Child {
  private readonly proc: ChildProcess;
  private readonly waiters = new Map<FleetReport['kind'], Array<{ resolve: () => void; reject: (err: Error) => void }>>();
  private failure: Error | undefined;

  constructor(
    readonly index: number,
    readonly shard: FleetShard,
  ) {
    this.proc = fork(fileURLToPath(new URL('./fleet-worker.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (report: FleetReport) => {
      if (report.kind === 'failed') return this.fail(new Error(`fleet worker ${index}: ${report.message}`));
      for (const w of this.waiters.get(report.kind)?.splice(0) ?? []) w.resolve();
    });
    this.proc.on('exit', (code, signal) => this.fail(new Error(`fleet worker ${index} exited (code ${code}, signal ${signal})`)));
  }

  waitFor(kind: FleetReport['kind']): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const list = this.waiters.get(kind) ?? [];
      list.push({ resolve, reject });
      this.waiters.set(kind, list);
    });
  }

  request(command: FleetCommand, answer: FleetReport['kind']): Promise<void> {
    const answered = this.waitFor(answer);
    this.proc.send(command);
    return answered;
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const list of this.waiters.values()) for (const w of list.splice(0)) w.reject(this.failure);
  }
}
