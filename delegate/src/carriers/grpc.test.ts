import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { ControlFrameSchema, delegateServiceDefinition, type ControlFrame, type DelegateFrame } from '@attache/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { CarrierError, type CarrierConnection } from './carrier.js';
import { GrpcCarrier } from './grpc.js';

/** A port nothing listens on (yet): bound once by the kernel, then released. */
async function unusedPort(): Promise<number> {
  const probe = createTcpServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A real grpc-js server that answers every Connect with one Goodbye and ends the call. */
async function goodbyeServer(port: number): Promise<{ calls: () => number; stop: () => Promise<void> }> {
  const server = new grpc.Server();
  let calls = 0;
  server.addService(delegateServiceDefinition, {
    connect: (call: grpc.ServerDuplexStream<DelegateFrame, ControlFrame>) => {
      calls++;
      call.write(create(ControlFrameSchema, { frame: { case: 'goodbye', value: { code: 'RESOURCE_EXHAUSTED', reason: 'come back later', retryAfterMs: 250 } } }));
      call.end();
    },
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return { calls: () => calls, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

async function firstFrame(conn: CarrierConnection): Promise<ControlFrame> {
  for await (const frame of conn) return frame;
  throw new Error('the connection ended without a frame');
}

describe('GrpcCarrier', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('connects as soon as the control plane is back, not after grpc-js backoff of a channel that failed', async () => {
    const port = await unusedPort();
    const carrier = new GrpcCarrier(new URL(`grpc://127.0.0.1:${port}`), { token: 'adt_test' });
    cleanups.push(() => carrier.close());
    // The control plane is down: the connection fails.
    const refused = carrier.open();
    const failure = await firstFrame(refused).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(CarrierError);
    expect((failure as CarrierError).code).toBe('UNAVAILABLE');
    // It is back at once. A reused channel would sit in TRANSIENT_FAILURE for about a second (grpc-js'
    // first backoff) and fail this open without trying; a fresh one connects.
    const server = await goodbyeServer(port);
    cleanups.push(() => server.stop());
    const started = Date.now();
    const frame = await firstFrame(carrier.open());
    expect(frame.frame.case).toBe('goodbye');
    expect(Date.now() - started).toBeLessThan(700);
  });

  it('keeps a channel the control plane answered on, so a paced reconnect reuses its connection', async () => {
    const port = await unusedPort();
    const server = await goodbyeServer(port);
    cleanups.push(() => server.stop());
    const carrier = new GrpcCarrier(new URL(`grpc://127.0.0.1:${port}`), { token: 'adt_test' });
    cleanups.push(() => carrier.close());
    const connections: number[] = [];
    // Count TCP connections from the client side: the server's bound socket is grpc-js' own.
    const { Socket } = await import('node:net');
    const connect = Socket.prototype.connect;
    let opened = 0;
    Socket.prototype.connect = function (this: InstanceType<typeof Socket>, ...args: unknown[]) {
      opened++;
      return (connect as (...a: unknown[]) => InstanceType<typeof Socket>).apply(this, args);
    } as typeof connect;
    cleanups.push(() => void (Socket.prototype.connect = connect));
    for (let i = 0; i < 3; i++) {
      expect((await firstFrame(carrier.open())).frame.case).toBe('goodbye');
      connections.push(opened);
    }
    expect(server.calls()).toBe(3);
    expect(connections).toEqual([1, 1, 1]);
  });
});
