import { STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  ControlFrameSchema,
  DelegateFrameSchema,
  MAX_FRAME_BYTES,
  type ControlFrame,
  type DelegateFrame,
  WEBSOCKET_CONNECT_PATH,
  WS_CLOSE,
  MAX_CLOSE_REASON_BYTES,
  GoodbyeCode,
  RefusalCode,
} from '@attache/proto';
import type { Logger } from 'pino';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { AuthFailureLimiter } from '../api/auth-failure-limiter.js';
import { parseBearer } from '../delegates/token-service.js';
import { goodbyeFrame, type CarrierServer, type DelegateConnection, type RejectCode } from './carrier.js';
import type { Goodbye } from '../delegates/session-registry.js';

/** How long a close handshake may take before the socket is cut; keeps shutdown from hanging on dead peers. */
const CLOSE_GRACE_MS = 2_000;

class WebSocketConnection implements DelegateConnection {
  readonly transport = 'websocket';
  readonly peer: string;
  readonly token: string | null;
  private closed = false;
  private frameHandler: ((frame: DelegateFrame) => void) | undefined;
  /** Frames that arrived before the handler subscribed (it does so synchronously, but be exact). */
  private readonly early: DelegateFrame[] = [];
  private readonly closeHandlers: Array<(reason: string) => void> = [];
  private awaitingPong = false;
  private readonly keepalive: NodeJS.Timeout;

  constructor(
    private readonly socket: WebSocket,
    request: IncomingMessage,
    keepaliveMs: number,
    /** Called when the token is refused (UNAUTHENTICATED): the failed-auth limit counts it. */
    private readonly onAuthFailure: () => void = () => {},
  ) {
    this.peer = `${request.socket.remoteAddress ?? 'unknown'}:${request.socket.remotePort ?? 0}`;
    this.token = parseBearer(request.headers.authorization);

    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('pong', () => (this.awaitingPong = false));
    socket.on('close', (code, reason) => this.finish(`socket closed (${code}${reason.length > 0 ? ` ${reason.toString('utf8')}` : ''})`));
    // ws emits 'close' right after 'error'; the listener only keeps an error from crashing the process.
    socket.on('error', (err) => this.finish(`socket error: ${err.message}`));

    // Heartbeats catch a silent delegate at the protocol level, but a peer behind a NAT or proxy
    // that dropped the flow may never make the socket fail; an unanswered ping cuts it.
    this.keepalive = setInterval(() => {
      if (this.awaitingPong) {
        this.finish('keepalive ping unanswered');
        socket.terminate();
        return;
      }
      this.awaitingPong = true;
      socket.ping();
    }, keepaliveMs);
    this.keepalive.unref();
  }

  send(frame: ControlFrame): boolean {
    if (this.closed || this.socket.readyState !== this.socket.OPEN) return false;
    this.socket.send(toBinary(ControlFrameSchema, frame), { binary: true });
    return true;
  }

  close(reason?: Goodbye): void {
    if (this.closed) return;
    if (reason) {
      this.send(create(ControlFrameSchema, { frame: { case: 'goodbye', value: goodbyeFrame(reason) } }));
    }
    this.finish(reason ? `closed: ${reason.code}` : 'closed');
    const code =
      reason?.code === GoodbyeCode.PROTOCOL_ERROR ? WS_CLOSE.POLICY_VIOLATION : reason?.code === GoodbyeCode.SERVER_SHUTDOWN ? WS_CLOSE.GOING_AWAY : WS_CLOSE.NORMAL;
    this.closeSocket(code, reason ? `${reason.code}: ${reason.message}` : '');
  }

  reject(code: RejectCode, message: string): void {
    if (this.closed) return;
    if (code === RefusalCode.UNAUTHENTICATED) this.onAuthFailure();
    this.finish(`rejected: ${code}`);
    // The close frame carries the reason: a delegate behind a proxy never sees an HTTP body.
    this.closeSocket(WS_CLOSE[code], `${code}: ${message}`);
  }

  onFrame(handler: (frame: DelegateFrame) => void): void {
    this.frameHandler = handler;
    for (const frame of this.early.splice(0)) handler(frame);
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed) return;
    if (!isBinary) {
      this.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: 'Protocol error: text message; frames are binary protobuf DelegateFrames.' });
      return;
    }
    let frame: DelegateFrame;
    try {
      frame = fromBinary(DelegateFrameSchema, toBytes(data));
    } catch (err) {
      this.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: `Protocol error: undecodable DelegateFrame (${(err as Error).message}).` });
      return;
    }
    if (this.frameHandler) this.frameHandler(frame);
    else this.early.push(frame);
  }

  private closeSocket(code: number, reason: string): void {
    try {
      this.socket.close(code, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
    } catch {
      this.socket.terminate();
      return;
    }
    setTimeout(() => this.socket.terminate(), CLOSE_GRACE_MS).unref();
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepalive);
    for (const h of this.closeHandlers) h(reason);
  }
}

export interface WebSocketCarrierOptions {
  /** The API's HTTP server: delegates reach the control plane through the same port and ingress. */
  server: HttpServer;
  /** Upgrade path. Default WEBSOCKET_CONNECT_PATH. */
  path?: string;
  /**
   * Ping interval; a peer that has not answered the previous ping by the next one is cut. Default
   * 30 s, like the gRPC carrier's keepalive: below common NAT and load-balancer idle timeouts.
   */
  keepaliveMs?: number;
  /**
   * The API's failed-authentication limit per client address (the same instance the HTTP server
   * uses): an address past it is refused before the upgrade (429 AUTH_RATE_LIMITED with
   * Retry-After), and every refused delegate token counts as a failure.
   */
  authFailures?: AuthFailureLimiter;
  log: Logger;
}

/**
 * The WebSocket carrier: the same protobuf frames as binary messages, for networks whose proxies
 * pass HTTP/1.1 but not HTTP/2. It serves upgrades on the API's HTTP server rather than its own
 * port, so one listener and one ingress rule cover both.
 */
export class WebSocketCarrierServer implements CarrierServer {
  readonly transport = 'websocket';
  private readonly path: string;
  private readonly wss: WebSocketServer;
  private upgradeListener: ((request: IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;

  constructor(private readonly options: WebSocketCarrierOptions) {
    this.path = options.path ?? WEBSOCKET_CONNECT_PATH;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_FRAME_BYTES,
      // Frames are small protobufs; compression would cost CPU and open the door to zip bombs.
      perMessageDeflate: false,
    });
  }

  async start(accept: (connection: DelegateConnection) => void): Promise<void> {
    const keepaliveMs = this.options.keepaliveMs ?? 30_000;
    this.upgradeListener = (request, socket, head) => {
      socket.on('error', () => socket.destroy());
      const pathname = new URL(request.url ?? '/', 'http://placeholder').pathname;
      if (pathname !== this.path) {
        refuseNotFound(socket, `No WebSocket endpoint at ${pathname}; delegates connect to ${this.path}.`);
        return;
      }
      const address = request.socket.remoteAddress ?? 'unknown';
      const limiter = this.options.authFailures;
      const refusal = limiter?.refusal(address);
      if (refusal) {
        refuse(socket, 429, refusal.toJSON(), { 'retry-after': String(refusal.details['retryAfter']) });
        return;
      }
      // The token is checked by the connection handler, after the upgrade, so that every carrier
      // refuses in one place and the delegate learns why from the close frame (code 4401).
      this.wss.handleUpgrade(request, socket, head, (ws) => {
        try {
          accept(new WebSocketConnection(ws, request, keepaliveMs, () => limiter?.recordFailure(address)));
        } catch (err) {
          this.options.log.error({ err }, 'failed to accept a delegate connection');
          ws.close(WS_CLOSE.INTERNAL_ERROR, 'internal error');
        }
      });
    };
    this.options.server.on('upgrade', this.upgradeListener);
  }

  address(): { host: string; port: number } {
    const addr = this.options.server.address();
    return typeof addr === 'object' && addr ? { host: addr.address, port: addr.port } : { host: '', port: 0 };
  }

  async stop(): Promise<void> {
    if (this.upgradeListener) this.options.server.off('upgrade', this.upgradeListener);
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/** Answers an upgrade for an unknown path in the API's error shape, then closes the socket. */
function refuseNotFound(socket: Duplex, message: string): void {
  refuse(socket, 404, { code: 'NOT_FOUND', message, details: {} });
}

/** Answers an upgrade with an HTTP error in the API's shape (and nosniff, like every answer), then closes the socket. */
function refuse(socket: Duplex, status: number, error: { code: string; message: string; details: Record<string, unknown> }, headers: Record<string, string> = {}): void {
  const body = `${JSON.stringify({ error })}\n`;
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      'Connection: close\r\ncontent-type: application/json\r\nx-content-type-options: nosniff\r\n' +
      extra +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  // Cut on a character boundary: a close reason that is not valid UTF-8 fails the close handshake.
  let end = maxBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}
