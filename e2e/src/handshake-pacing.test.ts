import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, Masker, builtinExecutors, createCarrier, createLogger } from '@attache/delegate';
import { GoodbyeCode } from '@attache/proto';
import { createTenant, createToken, eventually, startControlPlane, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';

/**
 * Admission pacing: a storm of real delegates (the delegate's own Agent and carriers, many in this
 * process) against a control plane allowed two handshakes at once. Those past the limit are told
 * when to come back (Goodbye RESOURCE_EXHAUSTED with retry_after_ms), wait that long plus jitter,
 * and every one of them registers: paced, not refused for good and not left to time out.
 */
describe('handshake pacing: a reconnect storm is admitted at the rate the replica takes it', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let token: string;
  const agents: Agent[] = [];
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });

  beforeAll(async () => {
    cp = await startControlPlane({ ATTACHE_MAX_HANDSHAKES_IN_FLIGHT: '2', ATTACHE_LOG_LEVEL: 'debug' });
    tenant = await createTenant(cp, 'pacing');
    token = (await createToken(tenant, 'pacing')).token;
  });
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await cp?.stop();
  });

  it('paces a storm over gRPC and WebSocket with retry hints, and registers every delegate', async () => {
    const masker = new Masker();
    const logger = createLogger({ level: 'warn', masker, destination });
    const executors = builtinExecutors();
    const urls = { grpc: cp.grpcUrl, websocket: cp.httpUrl.replace(/^http/, 'ws') };
    const registered: Array<Promise<void>> = [];
    for (let i = 0; i < 60; i++) {
      const url = i % 3 === 2 ? urls.websocket : urls.grpc;
      // A keepalive of its own per agent keeps grpc-js from sharing one HTTP/2 connection between them.
      const carrierOptions = { token, keepaliveMs: 20_000 + i };
      const agent = new Agent({ url, token, name: `storm-${i}`, maxConcurrency: 1, executors, logger, masker, carrier: createCarrier(url, carrierOptions) });
      registered.push(new Promise((resolve) => agent.once('registered', () => resolve())));
      agents.push(agent);
    }
    // All at once, as after a control-plane restart.
    for (const agent of agents) agent.start();
    await Promise.all(registered);

    const paced = lines.filter((l) => l['msg'] === 'disconnected; reconnecting' && (l['err'] as { code?: string } | undefined)?.code === GoodbyeCode.RESOURCE_EXHAUSTED);
    expect(paced.length).toBeGreaterThan(0);
    for (const line of paced) {
      const hint = (line['err'] as { retryAfterMs: number }).retryAfterMs;
      expect(hint).toBeGreaterThanOrEqual(250);
      // The hint is followed, with jitter on top, not the delegate's own backoff (which starts near 0).
      expect(line['delayMs']).toBeGreaterThanOrEqual(hint);
      expect(line['delayMs']).toBeLessThan(hint * 1.5 + 1);
    }
    // Nobody gave up.
    expect(agents.every((a) => a.connected)).toBe(true);

    const listed = await eventually(
      async () => {
        const items = (await tenant.api.get('/v1/delegates?limit=100')).body.items as Array<{ status: string }>;
        const connected = items.filter((d) => d.status === 'connected').length;
        return connected === 60 ? connected : undefined;
      },
      15_000,
      'all 60 delegates listed as connected',
    );
    expect(listed).toBe(60);

    const metrics = await (await fetch(`${cp.httpUrl}/metrics`)).text();
    const pacedCount = [...metrics.matchAll(/^attache_delegate_connection_events_total\{[^}]*event="paced"[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(pacedCount).toBeGreaterThanOrEqual(paced.length);
    expect(jsonLinesOf(cp).some((l) => l['msg'] === 'delegate handshake paced' && Number(l['retryAfterMs']) >= 250)).toBe(true);
  });
});

function jsonLinesOf(cp: ControlPlaneHandle): Array<Record<string, unknown>> {
  return cp.proc.lines.flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}
