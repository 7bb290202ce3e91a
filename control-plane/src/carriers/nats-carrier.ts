import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { ControlFrameSchema, DelegateFrameSchema, GoodbyeCode, MAX_FRAME_BYTES, RefusalCode, NatsHeader, type ControlFrame, type DelegateFrame } from '@attache/proto';
import type { Logger } from 'pino';
import { goodbyeFrame, type CarrierServer, type DelegateConnection, type RejectCode } from './carrier.js';
import type { Goodbye } from '../delegates/session-registry.js';
import { NATS_CONNECT_WILDCARD, natsSessionSubjects, parseConnectSubject } from './nats-credentials.js';

/** Every replica joins this queue group, so each connect request opens exactly one session. */
const CONNECT_QUEUE = 'attache-control-plane';

export interface NatsCarrierOptions {
  /** Owned by the carrier: stop() drains it. */
  nc: NatsConnection;
  /**
   * Keepalive on the down subject while nothing else is sent. NATS gives the delegate no signal when
   * the replica serving it dies (its subscription just vanishes), so the delegate treats silence
   * longer than the heartbeat timeout in Welcome as a lost connection. The server passes its
   * heartbeat interval; default 5 s.
   */
  pingIntervalMs?: number;
  log: Logger;
}

class NatsDelegateConnection implements DelegateConnection {
  readonly transport = 'nats';
  readonly peer: string;
  private closed = false;
  private lastSent = Date.now();
  private readonly frameHandlers: Array<(frame: DelegateFrame) => void> = [];
  private readonly closeHandlers: Array<(reason: string) => void> = [];
  private readonly sub: Subscription;
  private readonly ping: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    readonly token: string | null,
    readonly tenantId: string,
    private readonly subjects: ReturnType<typeof natsSessionSubjects>,
    pingIntervalMs: number,
    private readonly onEnd: () => void,
  ) {
    this.peer = `nats:${subjects.up}`;
    // Subscribed before the connect reply goes out, so the delegate's Hello cannot arrive unheard.
    this.sub = nc.subscribe(subjects.up, { callback: (err, msg) => (err ? this.finish(`subscription failed: ${err.message}`) : this.receive(msg)) });
    this.ping = setInterval(() => {
      if (Date.now() - this.lastSent >= pingIntervalMs) this.signal({ [NatsHeader.ping]: '1' });
    }, pingIntervalMs);
    this.ping.unref();
  }

  send(frame: ControlFrame): boolean {
    if (this.closed) return false;
    try {
      this.nc.publish(this.subjects.down, toBinary(ControlFrameSchema, frame));
      this.lastSent = Date.now();
      return true;
    } catch {
      // The NATS connection is closed for good (only at shutdown): this session cannot continue.
      this.finish('publish failed');
      return false;
    }
  }

  close(reason?: Goodbye): void {
    if (this.closed) return;
    if (reason) this.send(create(ControlFrameSchema, { frame: { case: 'goodbye', value: goodbyeFrame(reason) } }));
    this.finish(reason ? `closed: ${reason.code}` : 'closed');
  }

  reject(code: RejectCode, message: string): void {
    if (this.closed) return;
    this.signal({ [NatsHeader.status]: code, [NatsHeader.message]: message });
    this.finish(`rejected: ${code}`);
  }

  onFrame(handler: (frame: DelegateFrame) => void): void {
    this.frameHandlers.push(handler);
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }

  private receive(msg: Msg): void {
    if (this.closed) return;
    if (msg.headers?.has(NatsHeader.close)) {
      this.finish('closed by peer');
      return;
    }
    let frame: DelegateFrame;
    try {
      if (msg.data.length > MAX_FRAME_BYTES) throw new Error('frame too large');
      frame = fromBinary(DelegateFrameSchema, msg.data);
    } catch {
      this.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: 'Protocol error: a message on the up subject is not a DelegateFrame.' });
      return;
    }
    for (const h of this.frameHandlers) h(frame);
  }

  private signal(values: Record<string, string>): void {
    const h = headers();
    for (const [k, v] of Object.entries(values)) h.set(k, v);
    try {
      this.nc.publish(this.subjects.down, new Uint8Array(0), { headers: h });
      this.lastSent = Date.now();
    } catch {
      this.finish('publish failed');
    }
  }

  private finish(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ping);
    this.sub.unsubscribe();
    this.onEnd();
    for (const h of this.closeHandlers) h(reason);
  }

  /** Carrier shutdown: the delegate's next frame reaches no subscriber, nats-server says so, and it reconnects. */
  shutdown(): void {
    this.finish('carrier stopped');
  }
}

/**
 * The NATS carrier: delegates open a session with a request on their connect subject carrying
 * their token; the replica that takes it (queue group) serves the session on the up/down subjects
 * the delegate's JWT allows. Frames are handed to the same ConnectionHandler as gRPC's.
 */
export class NatsCarrierServer implements CarrierServer {
  readonly transport = 'nats';
  private readonly sessions = new Map<string, NatsDelegateConnection>();
  private connectSub: Subscription | undefined;

  constructor(private readonly options: NatsCarrierOptions) {}

  async start(accept: (connection: DelegateConnection) => void): Promise<void> {
    const { nc, log } = this.options;
    this.connectSub = nc.subscribe(NATS_CONNECT_WILDCARD, {
      queue: CONNECT_QUEUE,
      callback: (err, msg) => {
        if (err) {
          log.error({ err }, 'nats carrier: connect subscription failed');
          return;
        }
        const where = parseConnectSubject(msg.subject);
        if (!where) return;
        const subjects = natsSessionSubjects(where.tenantId, where.sessionId);
        // A repeated connect on a live session replaces it: one session per set of subjects.
        this.sessions.get(subjects.up)?.close({ code: GoodbyeCode.SESSION_REPLACED, message: 'A new connect request arrived for this session.' });
        const token = msg.data.length > 0 ? new TextDecoder().decode(msg.data) : null;
        const connection = new NatsDelegateConnection(nc, token, where.tenantId, subjects, this.options.pingIntervalMs ?? 5_000, () => {
          if (this.sessions.get(subjects.up) === connection) this.sessions.delete(subjects.up);
        });
        this.sessions.set(subjects.up, connection);
        try {
          accept(connection);
        } catch (error) {
          log.error({ err: error }, 'failed to accept a delegate connection');
          connection.reject(RefusalCode.RESOURCE_EXHAUSTED, 'internal error');
        }
        msg.respond();
      },
    });
    await nc.flush();
    void this.endSessionsOnDisconnect();
  }

  /**
   * Delegates do not resume a NATS session (their clients run with reconnect off and open a new
   * session, with a new Hello, after any loss), so a session this replica served before its own NATS
   * connection dropped is over: end it now rather than when its heartbeats are missed, which would
   * leave it holding tasks and presence its successor has taken over. The Goodbye is buffered by the
   * client and reaches a delegate that is in fact still connected once this replica is back, so it
   * reconnects at once instead of waiting out its keepalive.
   */
  private async endSessionsOnDisconnect(): Promise<void> {
    for await (const s of this.options.nc.status()) {
      if (s.type !== 'disconnect' || this.sessions.size === 0) continue;
      this.options.log.warn({ sessions: this.sessions.size }, 'nats carrier: connection to NATS lost; ending its delegate sessions');
      for (const session of [...this.sessions.values()]) {
        session.close({ code: GoodbyeCode.UNAVAILABLE, message: 'The control plane lost its NATS connection; reconnect.' });
      }
    }
  }

  address(): { host: string; port: number } {
    const [host = '', port = '0'] = this.options.nc.getServer().split(/:(?=\d+$)/);
    return { host, port: Number(port) };
  }

  async stop(): Promise<void> {
    this.connectSub?.unsubscribe();
    for (const s of [...this.sessions.values()]) s.shutdown();
    await this.options.nc.drain().catch(() => this.options.nc.close());
  }
}
