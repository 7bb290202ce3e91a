import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startControlPlane, type ControlPlaneHandle } from './support/cluster.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

/**
 * grpc.health.v1.Health, as a Kubernetes gRPC probe calls it. The client here encodes the two
 * messages itself (HealthCheckRequest{string service = 1}, HealthCheckResponse{enum status = 1}),
 * so it shares no code with the server's implementation.
 */
const STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;
type Status = (typeof STATUS)[number];

const encodeRequest = (service: string): Buffer => {
  const name = Buffer.from(service, 'utf8');
  return name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a, name.length]), name]);
};
const decodeResponse = (bytes: Buffer): Status => (bytes.length >= 2 && bytes[0] === 0x08 ? STATUS[bytes[1]!] ?? 'UNKNOWN' : 'UNKNOWN');

const HealthClient = grpc.makeGenericClientConstructor(
  {
    check: {
      path: '/grpc.health.v1.Health/Check',
      requestStream: false,
      responseStream: false,
      requestSerialize: encodeRequest,
      requestDeserialize: (b: Buffer) => b.toString(),
      responseSerialize: (s: Status) => Buffer.from([0x08, STATUS.indexOf(s)]),
      responseDeserialize: decodeResponse,
    },
    watch: {
      path: '/grpc.health.v1.Health/Watch',
      requestStream: false,
      responseStream: true,
      requestSerialize: encodeRequest,
      requestDeserialize: (b: Buffer) => b.toString(),
      responseSerialize: (s: Status) => Buffer.from([0x08, STATUS.indexOf(s)]),
      responseDeserialize: decodeResponse,
    },
  },
  'Health',
);

describe('gRPC health service on the delegate port', () => {
  let pg: PostgresServer;
  let cp: ControlPlaneHandle;
  let client: grpc.Client & Record<string, any>;

  const check = (service: string): Promise<Status> =>
    new Promise((resolve, reject) => client['check'](service, (err: grpc.ServiceError | null, status: Status) => (err ? reject(err) : resolve(status))));

  beforeAll(async () => {
    pg = await startPostgres();
    cp = await startControlPlane({ ATTACHE_DATABASE_URL: await pg.createDatabase('grpc_health') });
    client = new HealthClient(cp.grpcUrl.replace('grpc://', ''), grpc.credentials.createInsecure()) as grpc.Client & Record<string, any>;
  });
  afterAll(async () => {
    client?.close();
    await cp?.stop();
    await pg?.stop();
  });

  it('answers SERVING for the server and the delegate service, NOT_FOUND for another service', async () => {
    expect(await eventually(async () => ((await check('')) === 'SERVING' ? 'SERVING' : undefined), 10_000, 'SERVING')).toBe('SERVING');
    expect(await check('attache.delegate.v1.DelegateService')).toBe('SERVING');
    const unknown = await check('no.such.Service').then(
      () => null,
      (err: grpc.ServiceError) => err.code,
    );
    expect(unknown).toBe(grpc.status.NOT_FOUND);
  });

  it('follows readiness: NOT_SERVING while PostgreSQL is down (Check and Watch), SERVING again once it is back', async () => {
    const seen: Status[] = [];
    const watch = client['watch']('') as grpc.ClientReadableStream<Status>;
    watch.on('data', (s: Status) => seen.push(s));
    watch.on('error', () => undefined);
    try {
      await eventually(async () => (seen.at(-1) === 'SERVING' ? true : undefined), 10_000, 'Watch to report SERVING');

      await pg.halt();
      await eventually(async () => (seen.at(-1) === 'NOT_SERVING' ? true : undefined), 15_000, 'Watch to report NOT_SERVING');
      expect(await check('')).toBe('NOT_SERVING');
      // The same readiness as the HTTP probe.
      const ready = await fetch(`${cp.httpUrl}/readyz`);
      expect(ready.status).toBe(503);
      expect(((await ready.json()) as { checks: Record<string, string> }).checks['store']).toMatch(/^failing/);

      await pg.resume();
      await eventually(async () => (seen.at(-1) === 'SERVING' ? true : undefined), 30_000, 'Watch to report SERVING again');
      expect(await check('')).toBe('SERVING');
      expect(seen.slice(0, 3)).toEqual(['SERVING', 'NOT_SERVING', 'SERVING']);
    } finally {
      watch.cancel();
    }
  });
});
