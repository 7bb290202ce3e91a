import { createServer, type Server } from 'node:http';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ControlFrameSchema, DelegateFrameSchema, type ControlFrame } from '@attache/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { CarrierError } from './carrier.js';
import { WebSocketCarrier } from './websocket.js';

/** A real HTTP server with a real ws endpoint, scripted per test: the seam below the agent. */
class StubServer {
  readonly http: Server = createServer((_req, res) => res.writeHead(404).end());
  readonly wss = new WebSocketServer({ noServer: true });
  readonly paths: string[] = [];
  readonly tokens: Array<string | undefined> = [];
  /** When set, the upgrade is answered with this HTTP status instead. */
  refuseWith: number | undefined;
  onSocket: (socket: WebSocket) => void = () => undefined;

  async start(): Promise<string> {
    this.http.on('upgrade', (req, socket, head) => {
      this.paths.push(req.url ?? '');
      this.tokens.push(req.headers.authorization);
      if (this.refuseWith) {
        socket.end(`HTTP/1.1 ${this.refuseWith} Refused\r\nConnection: close\r\ncontent-length: 0\r\n\r\n`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onSocket(ws));
    });
    await new Promise<void>((resolve) => this.http.listen(0, '127.0.0.1', resolve));
    return `ws://127.0.0.1:${(this.http.address() as { port: number }).port}`;
  }

  async stop(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    await new Promise((resolve) => this.http.close(resolve));
  }
}

const welcome = (): Uint8Array =>
  toBinary(ControlFrameSchema, create(ControlFrameSchema, { frame: { case: 'welcome', value: { delegateId: 'd', tenantId: 't', heartbeatIntervalMs: 100 } } }));

async function drain(conn: AsyncIterable<ControlFrame>): Promise<{ frames: ControlFrame[]; error?: unknown }> {
  const frames: ControlFrame[] = [];
  try {
    for await (const f of conn) frames.push(f);
    return { frames };
  } catch (error) {
    return { frames, error };
  }
}

describe('WebSocketCarrier against a real ws server', () => {
  let stub: StubServer;
  afterEach(async () => stub.stop());

  it('connects to the default path with the bearer token and carries binary frames both ways', async () => {
    stub = new StubServer();
    const url = await stub.start();
    const received: string[] = [];
    stub.onSocket = (ws) =>
      ws.on('message', (data: Buffer, isBinary) => {
        expect(isBinary).toBe(true);
        received.push(fromBinary(DelegateFrameSchema, data).frame.case ?? '');
        ws.send(welcome());
        ws.close(1000);
      });
    const conn = new WebSocketCarrier(new URL(url), { token: 'tok' }).open();
    await conn.send(create(DelegateFrameSchema, { frame: { case: 'hello', value: { name: 'n' } } }));
    const { frames, error } = await drain(conn);
    expect(error).toBeUndefined();
    expect(frames.map((f) => f.frame.case)).toEqual(['welcome']);
    expect(received).toEqual(['hello']);
    expect(stub.paths).toEqual(['/v1/delegate/connect']);
    expect(stub.tokens).toEqual(['Bearer tok']);
  });

  it('close code 4401 is a fatal refusal carrying the reason', async () => {
    stub = new StubServer();
    const url = await stub.start();
    stub.onSocket = (ws) => ws.close(4401, 'UNAUTHENTICATED: The delegate token is unknown or revoked.');
    const { error } = await drain(new WebSocketCarrier(new URL(url), { token: 'tok' }).open());
    expect(error).toBeInstanceOf(CarrierError);
    expect(error).toMatchObject({ kind: 'unauthenticated', code: 'UNAUTHENTICATED', message: 'The delegate token is unknown or revoked.' });
  });

  it('an HTTP 401 before the upgrade is fatal; a 502 from an ingress is transient', async () => {
    stub = new StubServer();
    const url = await stub.start();
    stub.refuseWith = 401;
    expect((await drain(new WebSocketCarrier(new URL(url), { token: 'tok' }).open())).error).toMatchObject({ kind: 'unauthenticated', code: 'UNAUTHENTICATED' });
    stub.refuseWith = 502;
    expect((await drain(new WebSocketCarrier(new URL(url), { token: 'tok' }).open())).error).toMatchObject({ kind: 'transient', code: 'HTTP_502' });
  });

  it('a text message is a protocol error, an abnormal close is transient', async () => {
    stub = new StubServer();
    const url = await stub.start();
    stub.onSocket = (ws) => ws.send('hello?');
    expect((await drain(new WebSocketCarrier(new URL(url), { token: 'tok' }).open())).error).toMatchObject({ kind: 'transient', code: 'PROTOCOL_ERROR' });
    stub.onSocket = (ws) => ws.terminate();
    expect((await drain(new WebSocketCarrier(new URL(url), { token: 'tok' }).open())).error).toMatchObject({ kind: 'transient', code: 'CLOSED_1006' });
  });

  it('a refused connect fails send() and the iteration with a transient error', async () => {
    stub = new StubServer();
    const url = await stub.start();
    await stub.stop();
    // Not started: afterEach may stop it, and nothing can take the freed port from under the test.
    stub = new StubServer();
    const conn = new WebSocketCarrier(new URL(url), { token: 'tok' }).open();
    await expect(conn.send(create(DelegateFrameSchema, {}))).rejects.toMatchObject({ kind: 'transient', code: 'ECONNREFUSED' });
    expect((await drain(conn)).error).toMatchObject({ kind: 'transient', code: 'ECONNREFUSED' });
  });
});
