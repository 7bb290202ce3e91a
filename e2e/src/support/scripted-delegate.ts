import type { ControlFrame } from '@attache/proto';
import { openFrameClient, type FrameClient, type FrameClientEnd, type FrameInit } from './frame-client.js';

export interface HelloOptions {
  tags?: string[];
  maxConcurrency?: number;
  inFlight?: Array<{ taskId: string; attempt: number }>;
  publicKeys?: Array<{ keyId: string; algorithm: string; publicKey: Uint8Array }>;
  /** What the delegate claims to run (any string: the control plane must cope). */
  version?: string;
}

/**
 * A delegate played by the test over a real gRPC connection: it sends exactly the frames it is told
 * to, so a test can lose a Result, skip an Accepted or lie in a Heartbeat, which the real delegate
 * never does. A FrameClient that also knows how a delegate says Hello; every ControlFrame received
 * is kept in order.
 */
export class ScriptedDelegate {
  private readonly client: FrameClient;
  /** How the connection ended (the Goodbye, when one came, and the gRPC status). */
  readonly closed: Promise<FrameClientEnd>;

  constructor(grpcUrl: string, token: string) {
    this.client = openFrameClient(grpcUrl, token);
    this.closed = this.client.ended;
  }

  get received(): ControlFrame[] {
    return this.client.received;
  }

  send(frame: FrameInit): void {
    this.client.send(frame);
  }

  /**
   * Sends Hello and waits for Welcome. The instance id follows from the name, so a second scripted
   * connection with the same name is the same delegate process reconnecting.
   */
  async register(name: string, opts: Omit<HelloOptions, 'publicKeys'> = {}): Promise<void> {
    this.hello(name, opts);
    await this.next((f) => f.frame.case === 'welcome');
  }

  /** Sends Hello only (e.g. announcing keys, to be challenged). */
  hello(name: string, opts: HelloOptions = {}): void {
    this.send({
      case: 'hello',
      value: {
        name,
        instanceId: `scripted-${name}`,
        tags: opts.tags ?? [],
        taskTypes: ['echo'],
        maxConcurrency: opts.maxConcurrency ?? 1,
        version: opts.version ?? '0.0.0-test',
        inFlight: opts.inFlight ?? [],
        publicKeys: opts.publicKeys ?? [],
      },
    });
  }

  /** The first frame received (now or later) that matches, searching from the start. */
  next(match: (f: ControlFrame) => boolean, timeoutMs = 10_000): Promise<ControlFrame> {
    return this.client.next(match, timeoutMs);
  }

  close(): void {
    this.client.close();
  }
}
