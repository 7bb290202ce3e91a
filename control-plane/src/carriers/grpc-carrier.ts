import { readFile } from 'node:fs/promises';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import {
  ControlFrameSchema,
  delegateServiceDefinition,
  MAX_FRAME_BYTES,
  type ControlFrame,
  type DelegateFrame,
} from '@attache/proto';
import type { Logger } from 'pino';
import type { AuthFailureLimiter } from '../api/auth-failure-limiter.js';
import { parseBearer } from '../delegates/token-service.js';
import { goodbyeFrame, type CarrierServer, type DelegateConnection } from './carrier.js';
import type { Goodbye } from '../delegates/session-registry.js';
import { ListenError } from '../listen-error.js';
import { AcceptQueue } from './accept-queue.js';
import { reasonOf, StartupError } from '../startup-error.js';
import type { GrpcHealth } from './grpc-health.js';

type Call = grpc.ServerDuplexStream<DelegateFrame, ControlFrame>;

/**
 * Connections the kernel queues for us before we accept them. grpc-js listens with Node's default
 * of 511, which a reconnect storm of thousands of delegates overflows: the kernel then drops the
 * connects it cannot queue and each client waits for its SYN retransmission (1, 3, 7, 15 s …), a
 * wait no backoff of ours can shorten. The kernel still caps it at net.core.somaxconn.
 */
const LISTEN_BACKLOG = 8_192;

const STATUS_BY_CODE = {
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
} as const;

class GrpcConnection implements DelegateConnection {
  readonly transport = 'grpc';
  readonly peer: string;
  readonly token: string | null;
  private closed = false;
  private readonly closeHandlers: Array<(reason: string) => void> = [];

  constructor(
    private readonly call: Call,
    /** Called when the token is refused (UNAUTHENTICATED): the failed-auth limit counts it. */
    private readonly onAuthFailure: () => void = () => {},
  ) {
    this.peer = call.getPeer();
    const auth = call.metadata.get('authorization')[0];
    this.token = parseBearer(typeof auth === 'string' ? auth : auth?.toString('utf8'));
    call.on('cancelled', () => this.finish('cancelled by peer'));
    call.on('error', (err) => this.finish(`stream error: ${err.message}`));
    call.on('end', () => {
      this.finish('stream ended by peer');
      // Half-closed by the delegate: close our side too so the call completes.
      if (!this.call.writableEnded) this.call.end();
    });
    call.on('close', () => this.finish('stream closed'));
  }

  send(frame: ControlFrame): boolean {
    if (this.closed) return false;
    try {
      this.call.write(frame);
      return true;
    } catch {
      this.finish('write failed');
      return false;
    }
  }

  close(reason?: Goodbye): void {
    if (this.closed) return;
    if (reason) {
      this.send(create(ControlFrameSchema, { frame: { case: 'goodbye', value: goodbyeFrame(reason) } }));
    }
    this.finish(reason ? `closed: ${reason.code}` : 'closed');
    try {
      this.call.end();
    } catch {
      // The stream may already be gone; the close handlers ran either way.
    }
  }

  reject(code: keyof typeof STATUS_BY_CODE, message: string): void {
    if (this.closed) return;
    if (code === 'UNAUTHENTICATED') this.onAuthFailure();
    this.finish(`rejected: ${code}`);
    this.call.emit('error', { code: STATUS_BY_CODE[code], details: message });
  }

  onFrame(handler: (frame: DelegateFrame) => void): void {
    this.call.on('data', handler);
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    for (const h of this.closeHandlers) h(reason);
  }
}

export interface GrpcCarrierOptions {
  host: string;
  port: number;
  tls?: { certFile: string; keyFile: string } | undefined;
  log: Logger;
  /** Served beside DelegateService on the same port: grpc.health.v1.Health. */
  health?: GrpcHealth | undefined;
  /**
   * The API's failed-authentication limit per client address (the same instance): every refused
   * delegate token counts, and an address past the limit is refused with RESOURCE_EXHAUSTED (which
   * delegates retry with backoff) before its token is looked at.
   */
  authFailures?: AuthFailureLimiter | undefined;
}

/** The gRPC carrier: DelegateService.Connect bidi streams over HTTP/2, optionally TLS. */
export class GrpcCarrierServer implements CarrierServer {
  readonly transport = 'grpc';
  private readonly server: grpc.Server;
  /** Our own listener (for its backlog); grpc-js serves the connections it hands over. */
  private listener: NetServer | undefined;
  private acceptQueue: AcceptQueue | undefined;
  private boundPort = 0;

  constructor(private readonly options: GrpcCarrierOptions) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_FRAME_BYTES,
      'grpc.max_send_message_length': MAX_FRAME_BYTES,
      // Detect dead peers behind NATs and proxies that drop idle flows silently.
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.keepalive_permit_without_calls': 1,
      'grpc.http2.min_ping_interval_without_data_ms': 5_000,
      'grpc.max_connection_age_grace_ms': 30_000,
      // Channelz keeps per-connection tracing objects for an admin service we do not serve.
      'grpc.enable_channelz': 0,
    });
  }

  async start(accept: (connection: DelegateConnection) => void): Promise<void> {
    this.server.addService(delegateServiceDefinition, {
      connect: (call: Call) => {
        const address = peerAddress(call.getPeer());
        const limiter = this.options.authFailures;
        const refusal = limiter?.refusal(address);
        if (refusal) {
          call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `${refusal.code}: ${refusal.message}` });
          return;
        }
        try {
          accept(new GrpcConnection(call, () => limiter?.recordFailure(address)));
        } catch (err) {
          this.options.log.error({ err }, 'failed to accept a delegate connection');
          call.emit('error', { code: grpc.status.INTERNAL, details: 'internal error' });
        }
      },
    });
    this.options.health?.addTo(this.server);
    const credentials = this.options.tls
      ? grpc.ServerCredentials.createSsl(null, [
          {
            cert_chain: await readTlsFile(this.options.tls.certFile, 'ATTACHE_GRPC_TLS_CERT', 'certificate'),
            private_key: await readTlsFile(this.options.tls.keyFile, 'ATTACHE_GRPC_TLS_KEY', 'private key'),
          },
        ])
      : grpc.ServerCredentials.createInsecure();
    const host = this.options.host.includes(':') ? `[${this.options.host}]` : this.options.host;
    const injector = this.server.createConnectionInjector(credentials);
    // Accepted paused, handed to grpc-js a batch per turn (see AcceptQueue).
    const acceptQueue = new AcceptQueue((socket) => injector.injectConnection(socket));
    this.acceptQueue = acceptQueue;
    const listener = createNetServer({ pauseOnConnect: true }, (socket) => acceptQueue.push(socket));
    this.boundPort = await new Promise<number>((resolve, reject) => {
      listener.once('error', (err) => reject(new ListenError('delegate gRPC', `${host}:${this.options.port}`, 'ATTACHE_GRPC_ADDR', err)));
      listener.listen({ host: this.options.host, port: this.options.port, backlog: LISTEN_BACKLOG }, () => resolve((listener.address() as AddressInfo).port));
    });
    this.listener = listener;
  }

  address(): { host: string; port: number } {
    return { host: this.options.host, port: this.boundPort };
  }

  async stop(): Promise<void> {
    // No new connections; those open are closed by grpc-js' shutdown below.
    this.listener?.close();
    this.acceptQueue?.clear();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2_000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

async function readTlsFile(file: string, setting: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw new StartupError(setting, `Cannot read the gRPC TLS ${what} ${file} (${setting}): ${reasonOf(err)}.`, { cause: err });
  }
}

/**
 * The client address of a grpc-js peer string (`address:port`, the address as Node reports it, so
 * IPv6 without brackets): the same key the HTTP server's failed-auth limit uses.
 */
export function peerAddress(peer: string): string {
  const bracketed = /^\[(.*)\]:\d+$/.exec(peer);
  if (bracketed) return bracketed[1]!;
  const cut = peer.lastIndexOf(':');
  return cut > 0 && /^\d+$/.test(peer.slice(cut + 1)) ? peer.slice(0, cut) : peer;
}
