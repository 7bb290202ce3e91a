import { createUser } from '@nats-io/jwt';
import { NATS_CREDENTIALS_PATH } from '@attache/proto';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../../bus/memory-bus.js';
import { NatsCredentialIssuer } from '../../carriers/nats-credentials.js';
import { HandshakePacer } from '../../delegates/handshake-pacer.js';
import { realLifecycle, realStore, seedTenant, silentLog } from '../../delegates/test-support.js';
import { DelegateTokenService } from '../../delegates/token-service.js';
import { createNatsOperatorSetup, NatsAccountSigner } from '../../nats/account.js';
import { createHttpServer } from '../http-server.js';
import { natsCredentialRoutes } from './nats-credentials.js';

/**
 * The credentials route as the API serves it (the real HTTP server, its rate limit and error
 * handler): admitted through a handshake pacer, exempt from the per-key rate limit.
 */
describe(`POST ${NATS_CREDENTIALS_PATH}: paced, not rate-limited`, () => {
  let app: FastifyInstance | undefined;
  afterEach(async () => {
    await app?.close();
  });

  async function serve() {
    const store = await realStore();
    const tenant = await seedTenant(store, 'fleet');
    const tokens = new DelegateTokenService(store, new MemoryBus());
    const { token } = await tokens.create(tenant.id, 'fleet');
    const setup = await createNatsOperatorSetup();
    const { metrics } = realLifecycle(store);
    // The first token check waits until the test lets it go, so that call stays in flight.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let checks = 0;
    const verifier = { verify: async (t: string | null) => (checks++ === 0 ? held.then(() => tokens.verify(t)) : tokens.verify(t)) };
    const issuer = new NatsCredentialIssuer(verifier, new NatsAccountSigner(setup.signingSeed, setup.accountPublicKey), 60, {
      pacer: new HandshakePacer({ maxInFlight: 1 }),
      metrics,
    });
    app = await createHttpServer(
      {
        log: silentLog,
        credentials: { operatorKey: 'operator-key-unused-here', apiKeys: {} as never, sessions: {} as never, cookies: {} as never },
        // Two requests per two seconds per key: the storm below would be far past it.
        rateLimitPerSecond: 1,
        limits: { maxConnections: 100, maxConnectionsPerAddress: 100, headersTimeoutMs: 5_000, requestTimeoutMs: 5_000, keepAliveTimeoutMs: 5_000 },
        health: { ready: async () => ({ ready: true, checks: {} }), metrics: async () => ({ contentType: 'text/plain', body: '' }) },
      },
      (a) => natsCredentialRoutes(a, issuer),
    );
    // A real socket: the server's answers drain the request as they would for a delegate.
    const origin = await app.listen({ host: '127.0.0.1', port: 0 });
    const call = async () => {
      const res = await fetch(`${origin}${NATS_CREDENTIALS_PATH}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ publicKey: createUser().getPublicKey() }),
      });
      return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
    };
    return { call, release, metrics, checked: () => checks };
  }

  it('refuses a call past the limit with 503 HANDSHAKE_PACED, Retry-After and details.retryAfterMs', async () => {
    const { call, release, metrics, checked } = await serve();
    const first = call();
    // The first call is admitted and waits in its token check.
    while (checked() === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    const paced = await call();
    expect(paced.status).toBe(503);
    const error = paced.body['error'] as { code: string; message: string; details: { retryAfterMs: number } };
    expect(error.code).toBe('HANDSHAKE_PACED');
    expect(error.message).toContain('ATTACHE_MAX_HANDSHAKES_IN_FLIGHT');
    expect(error.details.retryAfterMs).toBeGreaterThanOrEqual(250);
    expect(error.details.retryAfterMs).toBeLessThanOrEqual(10_000);
    // Whole seconds, rounded up: a client that reads only the header is never early.
    expect(paced.headers.get('retry-after')).toBe(String(Math.ceil(error.details.retryAfterMs / 1000)));
    expect(paced.headers.get('cache-control')).toBe('no-store');

    release();
    const admitted = await first;
    expect(admitted.status).toBe(201);
    expect(admitted.body['jwt']).toEqual(expect.any(String));

    // The slot is free again; and the per-key rate limit (2 per 2 s here) does not apply to this route.
    for (let i = 0; i < 6; i++) {
      const again = await call();
      expect(again.status, JSON.stringify(again.body)).toBe(201);
    }

    const text = await metrics.registry.getSingleMetricAsString('attache_delegate_connection_events_total');
    expect(text).toMatch(/^attache_delegate_connection_events_total\{transport="nats",event="paced"\} 1$/m);
  });
});
