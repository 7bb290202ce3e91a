import { create, type MessageInitShape } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { DelegateFrameSchema, delegateServiceDefinition, type ControlFrame, type DelegateFrame } from '@attache/proto';

type FrameInit = NonNullable<MessageInitShape<typeof DelegateFrameSchema>['frame']>;

/**
 * A delegate played by the test over a real gRPC connection: it sends exactly the frames it is told
 * to, so a test can lose a Result, skip an Accepted or lie in a Heartbeat, which the real delegate
 * never does. Every ControlFrame received is kept in order.
 */
export class ScriptedDelegate {
  readonly received: ControlFrame[] = [];
  private readonly client: grpc.Client;
  private readonly call: grpc.ClientDuplexStream<DelegateFrame, ControlFrame>;
  private readonly waiters: Array<() => void> = [];
  readonly closed: Promise<grpc.StatusObject>;

  constructor(grpcUrl: string, token: string) {
    this.client = new grpc.Client(new URL(grpcUrl).host, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const { connect } = delegateServiceDefinition;
    this.call = this.client.makeBidiStreamRequest(connect.path, connect.requestSerialize, connect.responseDeserialize, metadata);
    this.call.on('data', (frame: ControlFrame) => {
      this.received.push(frame);
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.call.on('error', () => undefined);
    this.closed = new Promise((resolve) => this.call.on('status', resolve));
  }

  send(frame: FrameInit): void {
    this.call.write(create(DelegateFrameSchema, { frame }));
  }

  /**
   * Sends Hello and waits for Welcome. The instance id follows from the name, so a second scripted
   * connection with the same name is the same delegate process reconnecting.
   */
  async register(
    name: string,
    opts: { tags?: string[]; maxConcurrency?: number; inFlight?: Array<{ taskId: string; attempt: number }>; version?: string } = {},
  ): Promise<void> {
    this.hello(name, opts);
    await this.next((f) => f.frame.case === 'welcome');
  }

  /** Sends Hello only (e.g. announcing keys, to be challenged). */
  hello(
    name: string,
    opts: {
      tags?: string[];
      maxConcurrency?: number;
      inFlight?: Array<{ taskId: string; attempt: number }>;
      publicKeys?: Array<{ keyId: string; algorithm: string; publicKey: Uint8Array }>;
      /** What the delegate claims to run (any string: the control plane must cope). */
      version?: string;
    } = {},
  ): void {
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
  async next(match: (f: ControlFrame) => boolean, timeoutMs = 10_000): Promise<ControlFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(match);
      if (found) return found;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching ControlFrame within ${timeoutMs} ms (got: ${this.received.map((f) => f.frame.case).join(', ')})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }
}
