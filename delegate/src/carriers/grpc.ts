import * as grpc from '@grpc/grpc-js';
import { delegateServiceDefinition, MAX_FRAME_BYTES, type ControlFrame, type DelegateFrame } from '@attache/proto';
import {
  CarrierError,
  registerCarrier,
  type Carrier,
  type CarrierConnection,
  type CarrierOptions,
} from './carrier.js';
import { httpPortHint } from './grpc-port-hint.js';

/**
 * gRPC carrier: one bidi `DelegateService.Connect` stream per connection over HTTP/2.
 * grpc:// is plaintext (local development, a sidecar proxy terminating TLS); grpcs:// uses TLS
 * with the system roots or the configured CA.
 */
export interface GrpcCarrierOptions extends CarrierOptions {
  /**
   * HTTP/2 keepalive ping interval. Default 20 s: below the idle timeouts of common NATs and load
   * balancers, so a silently dropped path is noticed without waiting for a heartbeat to fail.
   */
  keepaliveMs?: number;
}

const connectMethod = delegateServiceDefinition.connect;

export class GrpcCarrier implements Carrier {
  private client: grpc.Client;
  private readonly newClient: () => grpc.Client;
  /** The last connection opened on the current channel. */
  private last: GrpcConnection | undefined;
  private readonly token: string;
  /** Asked once, on the first protocol error: the answer does not change between reconnects. */
  private hint: Promise<string | undefined> | undefined;
  private readonly explain: () => Promise<string | undefined>;

  constructor(url: URL, options: GrpcCarrierOptions) {
    this.explain = () => (this.hint ??= httpPortHint(url, options.ca));
    const tls = url.protocol === 'grpcs:';
    const credentials = tls
      ? grpc.credentials.createSsl(options.ca ?? null)
      : grpc.credentials.createInsecure();
    const keepaliveMs = options.keepaliveMs ?? 20_000;
    this.token = options.token;
    this.newClient = () =>
      new grpc.Client(url.host, credentials, {
        'grpc.max_receive_message_length': MAX_FRAME_BYTES,
        'grpc.max_send_message_length': MAX_FRAME_BYTES,
        'grpc.keepalive_time_ms': keepaliveMs,
        'grpc.keepalive_timeout_ms': 10_000,
        // The agent owns reconnection (with its own backoff and Hello); grpc-js retries would replay
        // half-sent streams behind its back.
        'grpc.enable_retries': 0,
        // The connection is this carrier's own. grpc-js' global pool would share it with any other
        // client of equal options in the process (not wanted: one agent, one connection), and it
        // finds a match by comparing options with every pooled subchannel, a cost that grows with
        // every client: 10,000 agents in one process (the bench) spent most of their start there.
        'grpc.use_local_subchannel_pool': 1,
      });
    this.client = this.newClient();
  }

  open(): CarrierConnection {
    // A channel whose last connection never reached the control plane (refused, reset, timed out)
    // keeps grpc-js' own reconnect backoff (1 s growing 1.6× to 120 s) and fails every call made while
    // it waits, without trying to connect: after a control-plane restart a delegate would wait that
    // out on top of the agent's own backoff (jittered, capped, and paced by the control plane's retry
    // hints). So such a channel is replaced. One that was answered (a Goodbye with a retry hint, say)
    // is connected and kept: a paced reconnect storm then costs no new TCP and HTTP/2 handshakes.
    if (this.last && !this.last.answered) {
      this.client.close();
      this.client = this.newClient();
    }
    const metadata = new grpc.Metadata();
    metadata.set('authorization', `Bearer ${this.token}`);
    const call = this.client.makeBidiStreamRequest<DelegateFrame, ControlFrame>(
      connectMethod.path,
      connectMethod.requestSerialize,
      connectMethod.responseDeserialize,
      metadata,
    );
    this.last = new GrpcConnection(call, this.explain);
    return this.last;
  }

  /** Releases the channel; the agent calls it once, when it stops for good. */
  close(): void {
    this.client.close();
  }
}

class GrpcConnection implements CarrierConnection {
  /** Response headers arrived: the control plane answered on this connection. */
  private headers = false;
  private ended = false;
  private abortReason: Error | undefined;
  /** The stream's terminal error, kept because a write can observe it before the iterator does. */
  private failure: CarrierError | undefined;

  constructor(
    private readonly call: grpc.ClientDuplexStream<DelegateFrame, ControlFrame>,
    private readonly explain: () => Promise<string | undefined>,
  ) {
    // Without a listener an 'error' would crash the process if it fires before iteration starts.
    call.on('error', (err: grpc.ServiceError) => {
      this.failure ??= this.translate(err);
    });
    // Not 'data': a data listener would switch the stream to flowing mode under the async iterator.
    call.on('metadata', () => (this.headers = true));
  }

  /**
   * Whether the control plane answered: it sent headers (every frame follows them), or ended the call
   * with a status of its own. UNAVAILABLE without headers is grpc-js' word for "never connected".
   */
  get answered(): boolean {
    return this.headers || (this.failure !== undefined && this.failure.code !== 'UNAVAILABLE');
  }

  send(frame: DelegateFrame): Promise<void> {
    if (this.ended || this.call.destroyed || this.call.writableEnded) {
      return Promise.reject(this.failure ?? new CarrierError('transient', 'CLOSED', 'connection is closed'));
    }
    return new Promise((resolve, reject) => {
      this.call.write(frame, (err?: Error | null) => {
        if (err) reject(this.failure ?? new CarrierError('transient', 'WRITE_FAILED', err.message, { cause: err }));
        else resolve();
      });
    });
  }

  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.call.end();
  }

  abort(reason?: Error): void {
    this.ended = true;
    this.abortReason ??= reason;
    this.call.cancel();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ControlFrame> {
    try {
      for await (const frame of this.call as AsyncIterable<ControlFrame>) yield frame;
    } catch (err) {
      if (this.abortReason) throw this.abortReason;
      // A local cancel() without a reason is a deliberate close, not a failure.
      if ((err as grpc.ServiceError).code === grpc.status.CANCELLED && this.ended) return;
      throw await this.withHint(this.failure ?? this.translate(err as grpc.ServiceError));
    }
    if (this.abortReason) throw this.abortReason;
  }

  /** An HTTP/1 server where gRPC was expected ("Protocol error"): say which port this is. */
  private async withHint(failure: CarrierError): Promise<CarrierError> {
    if (failure.code !== 'UNAVAILABLE' || !/Protocol error/i.test(failure.message)) return failure;
    const hint = await this.explain();
    return hint ? new CarrierError(failure.kind, 'WRONG_PORT', hint, { cause: failure }) : failure;
  }

  private translate(err: grpc.ServiceError): CarrierError {
    const code = grpc.status[err.code] ?? String(err.code);
    const kind =
      err.code === grpc.status.UNAUTHENTICATED || err.code === grpc.status.PERMISSION_DENIED
        ? 'unauthenticated'
        : 'transient';
    return new CarrierError(kind, code, err.details || err.message, { cause: err });
  }
}

registerCarrier({ scheme: 'grpc', tls: false, create: (url, options) => new GrpcCarrier(url, options) });
registerCarrier({ scheme: 'grpcs', tls: true, create: (url, options) => new GrpcCarrier(url, options) });
