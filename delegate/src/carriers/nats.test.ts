import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { NATS_CREDENTIALS_PATH } from '@attache/proto';
import { afterEach, describe, expect, it } from 'vitest';
import { CarrierError, type CarrierConnection } from './carrier.js';
import { NatsCarrier } from './nats.js';

/** A real HTTP server standing in for the control plane's credentials route, answering as told. */
async function credentialsServer(answer: { status: number; headers?: Record<string, string>; body: unknown }): Promise<{ origin: string; seen: IncomingHttpHeaders[]; server: Server }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push({ ...req.headers, path: req.url });
    req.resume();
    req.on('end', () => res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers }).end(JSON.stringify(answer.body)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen, server };
}

async function failureOf(conn: CarrierConnection): Promise<unknown> {
  try {
    for await (const _frame of conn) return undefined;
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('NatsCarrier credentials call', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
  });

  /** The credentials step fails before NATS is dialled, so the NATS address is never used. */
  async function open(answer: Parameters<typeof credentialsServer>[0]): Promise<{ failure: unknown; seen: IncomingHttpHeaders[] }> {
    const { origin, seen, server } = await credentialsServer(answer);
    servers.push(server);
    const carrier = new NatsCarrier(new URL(`nats://127.0.0.1:1?api=${encodeURIComponent(origin)}`), { token: 'adt_fleet' });
    const failure = await failureOf(carrier.open());
    return { failure, seen };
  }

  it('surfaces a paced call’s details.retryAfterMs as the retry hint, with the API’s code', async () => {
    const { failure, seen } = await open({
      status: 503,
      headers: { 'retry-after': '2' },
      body: { error: { code: 'HANDSHAKE_PACED', message: 'already issuing 1000 sets of NATS credentials', details: { retryAfterMs: 1_250 } } },
    });
    expect(seen[0]).toMatchObject({ path: NATS_CREDENTIALS_PATH, authorization: 'Bearer adt_fleet' });
    expect(failure).toBeInstanceOf(CarrierError);
    const error = failure as CarrierError;
    expect(error.kind).toBe('transient');
    expect(error.code).toBe('HANDSHAKE_PACED');
    // The precise hint, not the header's whole seconds.
    expect(error.retryAfterMs).toBe(1_250);
  });

  it('falls back to Retry-After for a 429 RATE_LIMITED without retryAfterMs', async () => {
    const { failure } = await open({
      status: 429,
      headers: { 'retry-after': '3' },
      body: { error: { code: 'RATE_LIMITED', message: 'Too many requests', details: { retryAfter: 3 } } },
    });
    expect(failure).toBeInstanceOf(CarrierError);
    expect((failure as CarrierError).code).toBe('RATE_LIMITED');
    expect((failure as CarrierError).retryAfterMs).toBe(3_000);
  });

  it('gives no hint when the answer carries none, and stays a plain UNAVAILABLE', async () => {
    const { failure } = await open({ status: 500, body: { error: { code: 'INTERNAL', message: 'Internal error', details: {} } } });
    expect(failure).toBeInstanceOf(CarrierError);
    expect((failure as CarrierError).code).toBe('UNAVAILABLE');
    expect((failure as CarrierError).retryAfterMs).toBe(0);
  });

  it('keeps 401 final, whatever the headers say', async () => {
    const { failure } = await open({ status: 401, headers: { 'retry-after': '5' }, body: { error: { code: 'UNAUTHENTICATED', message: 'unknown token', details: {} } } });
    expect((failure as CarrierError).kind).toBe('unauthenticated');
  });
});
