import type { ClientRequest, IncomingMessage } from 'node:http';
import { isIP, type Socket } from 'node:net';
import * as tls from 'node:tls';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ControlFrameSchema,
  DelegateFrameSchema,
  FATAL_REFUSAL_CODES,
  MAX_FRAME_BYTES,
  RefusalCode,
  WEBSOCKET_CONNECT_PATH,
  WS_CLOSE,
  type ControlFrame,
  type DelegateFrame,
} from '@attache/proto';
import WebSocket, { type ClientOptions, type RawData } from 'ws';
import {
  CarrierError,
  registerCarrier,
  type Carrier,
  type CarrierConnection,
  type CarrierOptions,
} from './carrier.js';
import { FrameQueue } from './frame-queue.js';
import { openTunnel, proxyFor } from './http-proxy.js';

/**
 * WebSocket carrier: the same protobuf frames as binary messages over HTTP/1.1, for networks whose
 * proxies pass WebSocket but not HTTP/2. ws:// is plaintext, wss:// uses TLS with the system roots
 * or the configured CA. `HTTPS_PROXY` (wss) / `HTTP_PROXY` (ws) route it through a CONNECT tunnel
 * unless `NO_PROXY` names the host.
 */
export interface WebSocketCarrierOptions extends CarrierOptions {
  /** Ping interval; no pong by the next ping cuts the connection. Default 20 s, as for gRPC. */
  keepaliveMs?: number;
  /** Environment to read proxy settings from. Default process.env. */
  env?: NodeJS.ProcessEnv;
}

/** Handshake and CONNECT budget; the agent's Welcome timeout bounds the whole session start anyway. */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Close codes that refuse the token for good (a refusal closes with the WS_CLOSE code of its name). */
const REFUSED_CLOSE_CODES = new Map<number, RefusalCode>(
  Object.values(RefusalCode)
    .filter((code) => FATAL_REFUSAL_CODES.has(code))
    .map((code) => [WS_CLOSE[code], code]),
);

export class WebSocketCarrier implements Carrier {
  private readonly target: URL;

  constructor(
    url: URL,
    private readonly options: WebSocketCarrierOptions,
  ) {
    this.target = new URL(url.href);
    if (this.target.pathname === '' || this.target.pathname === '/') this.target.pathname = WEBSOCKET_CONNECT_PATH;
  }

  open(): CarrierConnection {
    const secure = this.target.protocol === 'wss:';
    const wsOptions: ClientOptions = {
      headers: { authorization: `Bearer ${this.options.token}` },
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      ...(this.options.ca ? { ca: this.options.ca } : {}),
    };
    let proxy: URL | undefined;
    try {
      proxy = proxyFor(this.target, this.options.env);
    } catch (err) {
      return new FailedConnection(err as Error);
    }
    if (proxy) {
      const via = proxy;
      const host = this.target.hostname.replace(/^\[|\]$/g, '');
      const port = Number(this.target.port || (secure ? 443 : 80));
      // Node's http client takes a socket from createConnection through its callback, so the
      // tunnel can be opened asynchronously; ws passes the option through to http.request.
      const createConnection = (_opts: unknown, done: (err: Error | null, socket?: Socket) => void): undefined => {
        openTunnel({ proxy: via, host, port, ca: this.options.ca, timeoutMs: HANDSHAKE_TIMEOUT_MS }).then((raw) => {
          if (!secure) return done(null, raw);
          // `host` is what the certificate is checked against; SNI must not carry an IP address.
          const socket = tls.connect({ socket: raw, host, servername: isIP(host) ? undefined : host, ca: this.options.ca });
          socket.once('secureConnect', () => done(null, socket));
          socket.once('error', (err) => done(err));
        }, (err: Error) => done(err));
        return undefined;
      };
      wsOptions.createConnection = createConnection as unknown as ClientOptions['createConnection'];
    }
    return new WebSocketConnection(new WebSocket(this.target, wsOptions), this.options.keepaliveMs ?? 20_000);
  }

  /** Sockets belong to their connections; nothing is shared. */
  close(): void {}
}

/**
 * One socket. Frames are decoded as they arrive into a FrameQueue (which pauses the socket when the
 * reader falls behind), and the first failure ends the iteration with a CarrierError.
 */
class WebSocketConnection implements CarrierConnection {
  private readonly frames: FrameQueue<ControlFrame>;
  /** Set when the socket has closed. */
  private done = false;
  /** Set by close()/abort(): the end of the socket is then expected, not a failure. */
  private closing = false;
  private readonly opened: Promise<void>;
  private awaitingPong = false;
  private keepalive: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: WebSocket,
    keepaliveMs: number,
  ) {
    this.frames = new FrameQueue({ pause: () => socket.pause(), resume: () => socket.resume() });
    this.opened = new Promise((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('close', () => reject(this.failure ?? new CarrierError('transient', 'CLOSED', 'connection is closed')));
    });
    // The rejection is observed by send(); without this handler an unused one would be "unhandled".
    this.opened.catch(() => undefined);

    socket.on('open', () => {
      this.keepalive = setInterval(() => {
        if (this.awaitingPong) {
          this.fail(new CarrierError('transient', 'KEEPALIVE_TIMEOUT', 'the control plane did not answer a keepalive ping'));
          socket.terminate();
          return;
        }
        this.awaitingPong = true;
        socket.ping();
      }, keepaliveMs);
      this.keepalive.unref();
    });
    socket.on('pong', () => (this.awaitingPong = false));
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('unexpected-response', (request: ClientRequest, response: IncomingMessage) => {
      // Refused before the upgrade: an ingress or proxy in front of the control plane, or an old one.
      const status = response.statusCode ?? 0;
      const kind = status === 401 || status === 403 ? 'unauthenticated' : 'transient';
      const code = status === 401 ? RefusalCode.UNAUTHENTICATED : status === 403 ? RefusalCode.PERMISSION_DENIED : `HTTP_${status}`;
      this.fail(new CarrierError(kind, code, `WebSocket upgrade refused: ${status} ${response.statusMessage ?? ''}`.trim()));
      response.resume();
      request.destroy();
    });
    socket.on('error', (err) => {
      // Cutting a connection that is still handshaking makes ws report an error; it was asked for.
      if (this.closing) return;
      this.fail(err instanceof CarrierError ? err : new CarrierError('transient', errorCode(err), err.message, { cause: err }));
    });
    socket.on('close', (code, reasonBytes) => {
      clearInterval(this.keepalive);
      const reason = reasonBytes.toString('utf8');
      const refused = REFUSED_CLOSE_CODES.get(code);
      if (refused) {
        // The reason reads "UNAUTHENTICATED: The delegate token is unknown or revoked."
        this.fail(new CarrierError('unauthenticated', refused, reason.replace(/^[A-Z_]+: /, '') || refused));
      } else if (!this.closing && code !== WS_CLOSE.NORMAL && code !== WS_CLOSE.GOING_AWAY) {
        this.fail(new CarrierError('transient', `CLOSED_${code}`, `connection closed (${code}${reason ? `: ${reason}` : ''})`));
      }
      this.done = true;
      this.frames.end(this.failure);
    });
  }

  async send(frame: DelegateFrame): Promise<void> {
    if (this.done || this.closing) throw this.failure ?? new CarrierError('transient', 'CLOSED', 'connection is closed');
    await this.opened;
    if (this.socket.readyState !== WebSocket.OPEN) {
      throw this.failure ?? new CarrierError('transient', 'CLOSED', 'connection is closed');
    }
    await new Promise<void>((resolve, reject) => {
      this.socket.send(toBinary(DelegateFrameSchema, frame), { binary: true }, (err) => {
        if (err) reject(this.failure ?? new CarrierError('transient', 'WRITE_FAILED', err.message, { cause: err }));
        else resolve();
      });
    });
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.socket.readyState === WebSocket.OPEN) this.socket.close(WS_CLOSE.NORMAL, 'delegate closing');
    else this.socket.terminate();
  }

  abort(reason?: Error): void {
    if (reason) this.fail(reason);
    this.closing = true;
    this.socket.terminate();
  }

  [Symbol.asyncIterator](): AsyncIterator<ControlFrame> {
    return this.frames[Symbol.asyncIterator]();
  }

  private get failure(): Error | undefined {
    return this.frames.failure;
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (!isBinary) {
      this.fail(new CarrierError('transient', 'PROTOCOL_ERROR', 'the control plane sent a text message; frames are binary'));
      this.socket.terminate();
      return;
    }
    try {
      this.frames.push(fromBinary(ControlFrameSchema, toBytes(data)));
    } catch (err) {
      this.fail(new CarrierError('transient', 'PROTOCOL_ERROR', `undecodable ControlFrame: ${(err as Error).message}`, { cause: err }));
      this.socket.terminate();
      return;
    }
  }

  /** Ends the iteration with the first failure; later ones are consequences of it. */
  private fail(err: Error): void {
    this.frames.end(err);
  }
}

/** A connection that failed before it could start (bad proxy setting); its iteration reports why. */
class FailedConnection implements CarrierConnection {
  constructor(private readonly error: Error) {}
  send(): Promise<void> {
    return Promise.reject(this.error);
  }
  close(): void {}
  abort(): void {}
  async *[Symbol.asyncIterator](): AsyncIterator<ControlFrame> {
    throw this.error;
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

function errorCode(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : 'UNAVAILABLE';
}

registerCarrier({ scheme: 'ws', tls: false, defaultPort: 80, create: (url, options) => new WebSocketCarrier(url, options) });
registerCarrier({ scheme: 'wss', tls: true, defaultPort: 443, create: (url, options) => new WebSocketCarrier(url, options) });
