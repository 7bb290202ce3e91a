import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { connect, jwtAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { createUser } from '@nats-io/nkeys';
import {
  ControlFrameSchema,
  DelegateFrameSchema,
  delegateServiceDefinition,
  NATS_CREDENTIALS_PATH,
  NatsHeader,
  type ControlFrame,
  type NatsCredentialsResponse,
} from '@attache/proto';
import WebSocket from 'ws';

export type FrameInit = NonNullable<MessageInitShape<typeof DelegateFrameSchema>['frame']>;

/** How a connection ended: the Goodbye when one came, and the carrier's own account of it. */
export interface FrameClientEnd {
  goodbye?: { code: string; reason: string };
  carrierReason: string;
}

/**
 * A delegate connection driven frame by frame over any carrier (grpc://, ws://, nats://?api=), for
 * handshakes a real delegate never stretches out: it sends exactly what it is told, when it is
 * told, and keeps every ControlFrame it receives in order.
 */
export interface FrameClient {
  readonly received: ControlFrame[];
  /** Resolves once the carrier has taken the connection (NATS: the connect request was answered). */
  readonly opened: Promise<void>;
  readonly ended: Promise<FrameClientEnd>;
  send(frame: FrameInit): void;
  /** The first frame received (now or later) that matches. */
  next(match: (f: ControlFrame) => boolean, timeoutMs?: number): Promise<ControlFrame>;
  close(): void;
}

export function openFrameClient(url: string, token: string): FrameClient {
  const scheme = new URL(url).protocol;
  if (scheme === 'grpc:') return new Recorder(grpcTransport(url, token));
  if (scheme === 'ws:') return new Recorder(webSocketTransport(url, token));
  if (scheme === 'nats:') return new Recorder(natsTransport(url, token));
  throw new Error(`no frame client for ${scheme}//`);
}

interface Transport {
  opened: Promise<void>;
  write(bytes: Uint8Array): void;
  close(): void;
  /** Wires the transport's callbacks; called once. */
  listen(onFrame: (frame: ControlFrame) => void, onEnd: (carrierReason: string) => void): void;
}

class Recorder implements FrameClient {
  readonly received: ControlFrame[] = [];
  readonly ended: Promise<FrameClientEnd>;
  readonly opened: Promise<void>;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly transport: Transport) {
    this.opened = transport.opened;
    this.ended = new Promise((resolve) => {
      const end = (carrierReason: string) => {
        const bye = this.received.find((f) => f.frame.case === 'goodbye');
        resolve({ ...(bye?.frame.case === 'goodbye' ? { goodbye: { code: bye.frame.value.code, reason: bye.frame.value.reason } } : {}), carrierReason });
        this.wakeAll();
      };
      transport.listen((frame) => {
        this.received.push(frame);
        this.wakeAll();
        // NATS has no end of stream: a Goodbye is the end of the session.
        if (frame.frame.case === 'goodbye') end('goodbye');
      }, end);
    });
  }

  send(frame: FrameInit): void {
    this.transport.write(toBinary(DelegateFrameSchema, create(DelegateFrameSchema, { frame })));
  }

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
    this.transport.close();
  }

  private wakeAll(): void {
    for (const wake of this.waiters.splice(0)) wake();
  }
}

function grpcTransport(url: string, token: string): Transport {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const call = client.makeBidiStreamRequest<Uint8Array, ControlFrame>(
    delegateServiceDefinition.connect.path,
    (bytes) => Buffer.from(bytes),
    (buf) => fromBinary(ControlFrameSchema, buf),
    metadata,
  );
  call.on('error', () => undefined);
  return {
    opened: Promise.resolve(),
    write: (bytes) => {
      // Writing after the server ended the call is what a late Hello does; the status says why.
      if (!call.writableEnded && !call.destroyed) call.write(bytes);
    },
    close: () => {
      call.cancel();
      client.close();
    },
    listen: (onFrame, onEnd) => {
      call.on('data', onFrame);
      call.on('status', (status: grpc.StatusObject) => onEnd(`${grpc.status[status.code]}: ${status.details}`));
    },
  };
}

function webSocketTransport(url: string, token: string): Transport {
  const target = new URL(url);
  if (target.pathname === '/') target.pathname = '/v1/delegate/connect';
  const socket = new WebSocket(target, { headers: { authorization: `Bearer ${token}` } });
  socket.on('error', () => undefined);
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', () => reject(new Error('WebSocket closed before it opened')));
  });
  opened.catch(() => undefined);
  return {
    opened,
    write: (bytes) => {
      if (socket.readyState === WebSocket.OPEN) socket.send(bytes, { binary: true });
    },
    close: () => socket.terminate(),
    listen: (onFrame, onEnd) => {
      socket.on('message', (data: Buffer) => onFrame(fromBinary(ControlFrameSchema, data)));
      socket.on('close', (code, reason) => onEnd(`${code} ${reason.toString('utf8')}`));
    },
  };
}

/** What a delegate does before its first frame over NATS: credentials for a fresh user key, then a session. */
export async function openNatsSession(natsUrl: string, apiUrl: string, token: string): Promise<{ nc: NatsConnection; creds: NatsCredentialsResponse }> {
  const user = createUser();
  const res = await fetch(new URL(NATS_CREDENTIALS_PATH, apiUrl), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ publicKey: user.getPublicKey() }),
  });
  if (res.status !== 201) throw new Error(`credentials: ${res.status} ${await res.text()}`);
  const creds = (await res.json()) as NatsCredentialsResponse;
  const nc = await connect({
    servers: [natsUrl],
    reconnect: false,
    inboxPrefix: creds.subjects.inboxPrefix,
    authenticator: jwtAuthenticator(creds.jwt, user.getSeed()),
  });
  return { nc, creds };
}

function natsTransport(url: string, token: string): Transport {
  const parsed = new URL(url);
  const api = parsed.searchParams.get('api');
  if (!api) throw new Error('a nats:// URL needs ?api=<control plane HTTP API>');
  let onFrame: (frame: ControlFrame) => void = () => undefined;
  let onEnd: (reason: string) => void = () => undefined;
  const session = openNatsSession(`nats://${parsed.host}`, api, token).then(async ({ nc, creds }) => {
    nc.subscribe(creds.subjects.down, {
      callback: (_err, msg) => {
        const status = msg.headers?.get(NatsHeader.status);
        if (status) return onEnd(`${status}: ${msg.headers?.get(NatsHeader.message)}`);
        if (msg.headers?.has(NatsHeader.ping)) return;
        onFrame(fromBinary(ControlFrameSchema, msg.data));
      },
    });
    await nc.request(creds.subjects.connect, token, { timeout: 5_000 });
    return { nc, creds };
  });
  const opened = session.then(() => undefined);
  opened.catch(() => undefined);
  // Frames go out in order, after the session exists.
  let queue: Promise<unknown> = opened;
  return {
    opened,
    write: (bytes) => {
      queue = queue.then(() => session.then(({ nc, creds }) => nc.publish(creds.subjects.up, bytes))).catch(() => undefined);
    },
    close: () => void session.then(({ nc }) => nc.close()).catch(() => undefined),
    listen: (frame, end) => {
      onFrame = frame;
      onEnd = end;
    },
  };
}
