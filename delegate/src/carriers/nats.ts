import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { connect, headers, NoRespondersError, type Msg, type NatsConnection } from '@nats-io/transport-node';
import {
  ControlFrameSchema,
  DelegateFrameSchema,
  FATAL_REFUSAL_CODES,
  MAX_FRAME_BYTES,
  NATS_CREDENTIALS_PATH,
  NatsHeader,
  RefusalCode,
  type ControlFrame,
  type DelegateFrame,
  type NatsCredentialsResponse,
} from '@attache/proto';
import { FrameQueue } from './frame-queue.js';
import { newNatsUserKey } from './nats-user-key.js';
import { CarrierError, registerCarrier, type Carrier, type CarrierConnection, type CarrierOptions } from './carrier.js';

/**
 * NATS carrier: the delegate talks to the control plane through a NATS server, for networks where
 * NATS is what leaves the building. nats:// is plaintext, tls:// uses TLS (system roots or the CA).
 *
 * Each connection starts with credentials: the delegate creates a user nkey, sends only its public
 * half with its delegate token to the control plane's HTTP API (the `api` URL parameter, e.g.
 * `nats://nats.example.com:4222?api=https://attache.example.com`), and receives a short-lived user
 * JWT whose only permissions are one session's subjects under its tenant. The seed never leaves this
 * process. Then: connect to NATS with that JWT, subscribe to `down`, request `connect` with the
 * token, and exchange protobuf frames on `up`/`down`.
 *
 * Only the replica serving the session subscribes to its `up` subject, so every frame is published
 * with a reply subject of ours: when that replica is gone (killed, or its NATS connection lost),
 * nats-server answers the next frame at once with a 503 "no responders" status instead of dropping
 * it, and the delegate reconnects then, within one heartbeat interval, rather than after the
 * heartbeat timeout of silence. A replica that is alive but silent (hung, partitioned from NATS
 * while its connection lingers) is still caught by that timeout.
 *
 * NATS reconnection is off: the agent owns reconnecting (with backoff, fresh credentials and a new
 * Hello), exactly as with gRPC, and an expired JWT must be replaced rather than replayed.
 */
export interface NatsCarrierOptions extends CarrierOptions {
  /**
   * The control plane pings the down subject every heartbeat interval while idle; silence this long
   * means the replica serving us is gone (NATS itself cannot tell). Until Welcome says otherwise
   * (its heartbeat timeout, through keepalive()), 15 s.
   */
  idleTimeoutMs?: number;
}

/** The status nats-server answers a message with a reply subject that reached no subscriber. */
const NO_RESPONDERS = 503;
/** Last token of the probe reply subject; nats.js' own request inboxes are `<prefix>.<nuid>.*`, so it cannot collide. */
const REPLICA_PROBE_TOKEN = 'replica';

/** Budget for the credentials call, the NATS handshake and the connect request, each. */
const STEP_TIMEOUT_MS = 10_000;

export class NatsCarrier implements Carrier {
  private readonly server: string;
  private readonly api: URL;
  private readonly tls: boolean;

  constructor(
    url: URL,
    private readonly options: NatsCarrierOptions,
  ) {
    this.tls = url.protocol === 'tls:';
    this.server = `${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${url.port || '4222'}`;
    const api = url.searchParams.get('api');
    if (!api) throw new Error(`${url.protocol}// needs the control plane's API URL: ${url.protocol}//host:4222?api=https://attache.example.com`);
    this.api = new URL(NATS_CREDENTIALS_PATH, api);
  }

  open(): CarrierConnection {
    return new NatsCarrierConnection(this.server, this.tls, this.api, this.options);
  }

  close(): void {
    // Every connection owns its NATS client and closes it itself.
  }
}

class NatsCarrierConnection implements CarrierConnection {
  private nc: NatsConnection | undefined;
  private upSubject = '';
  /** Reply subject of every frame: where nats-server says that nothing listens on `up` any more. */
  private probeSubject = '';
  private readonly ready: Promise<void>;
  /** A NATS subscription cannot be paused, so the queue has no pause hook: the agent reads each frame at once. */
  private readonly frames = new FrameQueue<ControlFrame>();
  private lastHeard = Date.now();
  private idleTimer: NodeJS.Timeout | undefined;
  private idleTimeoutMs: number;

  constructor(
    private readonly server: string,
    private readonly tls: boolean,
    private readonly api: URL,
    private readonly options: NatsCarrierOptions,
  ) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 15_000;
    this.ready = this.start();
    // Failures surface through iteration and send(); this only keeps the rejection handled.
    this.ready.catch((err: unknown) => this.end(asCarrierError(err)));
  }

  async send(frame: DelegateFrame): Promise<void> {
    await this.ready;
    if (this.done || !this.nc) throw this.failure ?? new CarrierError('transient', 'CLOSED', 'connection is closed');
    try {
      this.nc.publish(this.upSubject, toBinary(DelegateFrameSchema, frame), { reply: this.probeSubject });
    } catch (err) {
      throw new CarrierError('transient', 'WRITE_FAILED', (err as Error).message, { cause: err });
    }
  }

  close(): void {
    if (this.done) return;
    const nc = this.nc;
    if (nc && !nc.isClosed()) {
      const h = headers();
      h.set(NatsHeader.close, '1');
      try {
        nc.publish(this.upSubject, new Uint8Array(0), { headers: h });
      } catch {
        // Closing anyway.
      }
    }
    this.end(undefined);
  }

  abort(reason?: Error): void {
    this.end(reason);
  }

  [Symbol.asyncIterator](): AsyncIterator<ControlFrame> {
    return this.frames[Symbol.asyncIterator]();
  }

  private get done(): boolean {
    return this.frames.ended;
  }

  private get failure(): Error | undefined {
    return this.frames.failure;
  }

  private async start(): Promise<void> {
    const user = newNatsUserKey();
    const creds = await fetchCredentials(this.api, this.options, user.publicKey);
    if (this.done) return;
    const nc = await connect({
      servers: [this.server],
      name: 'attache-delegate',
      reconnect: false,
      timeout: STEP_TIMEOUT_MS,
      inboxPrefix: creds.subjects.inboxPrefix,
      // What nats.js's jwtAuthenticator sends (JWT, public key, base64 signature of the nonce), signed natively.
      authenticator: (nonce?: string) => ({
        jwt: creds.jwt,
        nkey: user.publicKey,
        sig: nonce ? Buffer.from(user.sign(new TextEncoder().encode(nonce))).toString('base64') : '',
      }),
      ...(this.tls ? { tls: this.options.ca ? { ca: this.options.ca.toString('utf8') } : {} } : {}),
    }).catch((err: unknown) => {
      throw new CarrierError('transient', 'UNAVAILABLE', `cannot connect to NATS at ${this.server}: ${(err as Error).message}`, { cause: err });
    });
    this.nc = nc;
    this.upSubject = creds.subjects.up;
    if (this.done) {
      await nc.close();
      return;
    }
    void nc.closed().then((err) =>
      this.end(new CarrierError('transient', 'UNAVAILABLE', `NATS connection closed${err ? `: ${err.message}` : ''}`, err ? { cause: err } : undefined)),
    );
    nc.subscribe(creds.subjects.down, { callback: (err, msg) => (err ? this.end(asCarrierError(err)) : this.receive(msg)) });
    this.probeSubject = `${creds.subjects.inboxPrefix}.${REPLICA_PROBE_TOKEN}`;
    nc.subscribe(this.probeSubject, { callback: (err, msg) => (err ? this.end(asCarrierError(err)) : this.onProbeReply(msg)) });
    try {
      await nc.request(creds.subjects.connect, this.options.token, { timeout: STEP_TIMEOUT_MS });
    } catch (err) {
      const why = err instanceof NoRespondersError || (err as Error).cause instanceof NoRespondersError ? 'no control plane is listening' : (err as Error).message;
      throw new CarrierError('transient', 'UNAVAILABLE', `NATS session not opened: ${why}`, { cause: err });
    }
    this.lastHeard = Date.now();
    this.watchSilence();
  }

  setSilenceTimeout(silenceTimeoutMs: number): void {
    this.idleTimeoutMs = silenceTimeoutMs;
    if (this.idleTimer) this.watchSilence();
  }

  private watchSilence(): void {
    if (this.idleTimer) clearInterval(this.idleTimer);
    if (this.done) return;
    const timeoutMs = this.idleTimeoutMs;
    this.idleTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > timeoutMs) {
        this.end(new CarrierError('transient', 'KEEPALIVE_TIMEOUT', `nothing from the control plane for ${timeoutMs} ms`));
      }
    }, Math.max(50, Math.min(1_000, Math.floor(timeoutMs / 4))));
    this.idleTimer.unref();
  }

  /** nats-server's answer to a frame nobody received: the replica serving this session is gone. */
  private onProbeReply(msg: Msg): void {
    if (this.done || msg.headers?.code !== NO_RESPONDERS) return;
    this.end(
      new CarrierError('transient', 'UNAVAILABLE', 'the control plane replica serving this session is gone: nothing receives its up subject any more'),
    );
  }

  private receive(msg: Msg): void {
    if (this.done) return;
    this.lastHeard = Date.now();
    const status = msg.headers?.get(NatsHeader.status);
    if (status) {
      const message = msg.headers?.get(NatsHeader.message) || status;
      const kind = FATAL_REFUSAL_CODES.has(status) ? 'unauthenticated' : 'transient';
      this.end(new CarrierError(kind, status, message));
      return;
    }
    if (msg.headers?.has(NatsHeader.ping)) return;
    try {
      if (msg.data.length > MAX_FRAME_BYTES) throw new Error('frame too large');
      this.frames.push(fromBinary(ControlFrameSchema, msg.data));
    } catch (err) {
      this.end(new CarrierError('transient', 'PROTOCOL_ERROR', 'a message on the down subject is not a ControlFrame', { cause: err }));
    }
  }

  private end(error: Error | undefined): void {
    if (this.done) return;
    this.frames.end(error);
    if (this.idleTimer) clearInterval(this.idleTimer);
    // Flush so a close notice or last frame leaves before the socket does.
    const nc = this.nc;
    if (nc && !nc.isClosed()) void nc.flush().catch(() => undefined).finally(() => nc.close());
  }
}

function asCarrierError(err: unknown): CarrierError {
  if (err instanceof CarrierError) return err;
  return new CarrierError('transient', 'UNAVAILABLE', (err as Error)?.message ?? String(err), { cause: err });
}

/** POST the public key with the delegate token; 401/403 are final (the token will not work on a retry). */
function fetchCredentials(api: URL, options: CarrierOptions, publicKey: string): Promise<NatsCredentialsResponse> {
  const body = JSON.stringify({ publicKey });
  const send = api.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      api,
      {
        method: 'POST',
        timeout: STEP_TIMEOUT_MS,
        headers: { authorization: `Bearer ${options.token}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        ...(options.ca && api.protocol === 'https:' ? { ca: options.ca } : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(asCarrierError(err)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status === 201 || status === 200) return resolve(parsed as NatsCredentialsResponse);
          const error = (parsed as { error?: { code?: string; message?: string; details?: Record<string, unknown> } } | undefined)?.error;
          const message = error?.message ?? `HTTP ${status}`;
          if (status === 401 || status === 403) {
            const refusal = status === 401 ? RefusalCode.UNAUTHENTICATED : RefusalCode.PERMISSION_DENIED;
            // The API's own code says why (TENANT_SUSPENDED), as the gRPC and WebSocket refusals' reasons do.
            const why = error?.code && error.code !== refusal ? `${error.code}: ${message}` : message;
            return reject(new CarrierError('unauthenticated', refusal, why));
          }
          // Paced (503 HANDSHAKE_PACED) or rate-limited (429): the control plane says when to come back.
          const retryAfterMs = retryHintMs(error?.details, res.headers['retry-after']);
          const code = retryAfterMs > 0 && error?.code ? error.code : 'UNAVAILABLE';
          reject(new CarrierError('transient', code, `NATS credentials from ${api.origin}: ${message}`, { retryAfterMs }));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${STEP_TIMEOUT_MS} ms`)));
    req.on('error', (err) => reject(new CarrierError('transient', 'UNAVAILABLE', `NATS credentials from ${api.origin}: ${err.message}`, { cause: err })));
    req.end(body);
  });
}

/**
 * When a refused credentials call may be tried again, in ms: `details.retryAfterMs` of the API's
 * error, else the Retry-After header (seconds, or an HTTP date); 0 when neither says.
 */
function retryHintMs(details: Record<string, unknown> | undefined, retryAfter: string | undefined): number {
  const ms = details?.['retryAfterMs'];
  if (typeof ms === 'number' && Number.isFinite(ms) && ms > 0) return Math.ceil(ms);
  if (!retryAfter) return 0;
  const value = retryAfter.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 0 : Math.max(0, at - Date.now());
}

registerCarrier({ scheme: 'nats', tls: false, defaultPort: 4222, create: (url, options) => new NatsCarrier(url, options) });
registerCarrier({ scheme: 'tls', tls: true, defaultPort: 4222, create: (url, options) => new NatsCarrier(url, options) });
