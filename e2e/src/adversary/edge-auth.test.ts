import { WEBSOCKET_CONNECT_PATH, WS_CLOSE } from '@attache/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createTenant, startControlPlane, type ControlPlaneHandle, type TenantHandle } from '../support/cluster.js';
import { openFrameClient } from '../support/frame-client.js';
import { httpFrom, rawHttp } from '../support/raw-http.js';

const METRICS_TOKEN = 'metrics-token-e2e-0123456789abcdef';

/**
 * The control plane's edge, over real HTTP: authentication decided on the routed path (raw sockets
 * for request forms a client library would never send), failed authentications limited per client
 * address, and the headers every answer or a secret-bearing answer must carry.
 * Each test sends from its own loopback address, so one test's failures never block another's.
 */
describe('edge: authentication, failed-auth limit, headers', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let port: number;

  beforeAll(async () => {
    cp = await startControlPlane({ ATTACHE_METRICS_TOKEN: METRICS_TOKEN });
    tenant = await createTenant(cp, 'edge-auth');
    port = Number(new URL(cp.httpUrl).port);
  });
  afterAll(async () => {
    await cp?.stop();
  });

  const get = (target: string, key?: string) =>
    `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n${key ? `Authorization: Bearer ${key}\r\n` : ''}Connection: close\r\n\r\n`;

  it('cannot be skipped with an absolute-form URL, doubled slashes, dot segments or percent-encoding', async () => {
    const from = '127.0.0.2';
    const tricks = [
      `http://127.0.0.1:${port}/v1/delegates`,
      `http://attacker.example/v1/delegates`,
      '//v1/delegates',
      '/v1//delegates',
      '/v1/../v1/delegates',
      '/healthz/../v1/delegates',
      '/./v1/delegates',
      '/%76%31/delegates',
      '/v1/%64elegates',
      '/v1/delegates/',
      // A query the route accepts (list routes refuse unknown parameters with 400).
      '/v1/delegates?limit=1',
      '/V1/delegates',
      '/v1/delegate-tokens/../delegates',
    ];
    for (const target of tricks) {
      const res = await rawHttp(port, get(target), from);
      expect({ target, status: res.status, code: JSON.parse(res.body).error?.code }).toEqual({ target, status: 401, code: 'UNAUTHENTICATED' });
      expect(res.body).not.toContain('"items"');
    }
    // With a key the same requests reach the router: a listing or a 404, never a server error.
    for (const target of tricks) {
      const res = await rawHttp(port, get(target, tenant.api.key), from);
      expect([200, 404]).toContain(res.status);
    }
    // The operator's route, absolute-form and without a key, creates nothing.
    const body = JSON.stringify({ name: 'squatter' });
    const post = await rawHttp(
      port,
      `POST http://127.0.0.1:${port}/v1/tenants HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      from,
    );
    expect(post.status).toBe(401);
    // Probes stay open.
    expect((await rawHttp(port, get('/healthz'), from)).status).toBe(200);
  });

  it('after 100 failed authentications from one address refuses that address for the rest of the minute, even with a valid key', async () => {
    const from = '127.0.0.3';
    const statuses: number[] = [];
    // Every way to fail counts: a wrong key, no key, a wrong metrics token, an absolute-form URL.
    for (let i = 0; i < 97; i++) {
      statuses.push((await httpFrom(`${cp.httpUrl}/v1/delegates`, { headers: { authorization: `Bearer atk_wrong_${i}` }, localAddress: from })).status);
    }
    statuses.push((await httpFrom(`${cp.httpUrl}/v1/tasks`, { localAddress: from })).status);
    statuses.push((await httpFrom(`${cp.httpUrl}/metrics`, { headers: { authorization: 'Bearer nope' }, localAddress: from })).status);
    statuses.push((await rawHttp(port, get(`http://127.0.0.1:${port}/v1/delegates`), from)).status);
    expect(statuses).toEqual(Array(100).fill(401));

    const blocked = await httpFrom(`${cp.httpUrl}/v1/delegates`, { headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from });
    expect(blocked.status).toBe(429);
    const error = JSON.parse(blocked.body).error;
    expect(error.code).toBe('AUTH_RATE_LIMITED');
    expect(error.message).toMatch(/even with a valid key/);
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(error.details.retryAfter).toBe(retryAfter);
    // The operator key and raw requests from that address are refused alike.
    expect((await httpFrom(`${cp.httpUrl}/v1/tenants`, { method: 'POST', body: '{"name":"x"}', headers: { authorization: `Bearer ${cp.operator.key}` }, localAddress: from })).status).toBe(429);
    expect((await rawHttp(port, get('/v1/delegates', tenant.api.key), from)).status).toBe(429);
    // Probes still answer (a load balancer may share the address), and other addresses are unaffected.
    expect((await httpFrom(`${cp.httpUrl}/healthz`, { localAddress: from })).status).toBe(200);
    expect((await httpFrom(`${cp.httpUrl}/v1/delegates`, { headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: '127.0.0.4' })).status).toBe(200);
  });

  /** One delegate upgrade from `from`: the close code the control plane sent, or its HTTP refusal. */
  const upgrade = (token: string, from: string): Promise<{ closeCode: number } | { status: number; headers: Record<string, string>; body: string }> =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${WEBSOCKET_CONNECT_PATH}`, { headers: { authorization: `Bearer ${token}` }, localAddress: from });
      ws.on('close', (code) => resolve({ closeCode: code }));
      ws.on('unexpected-response', (_req, res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const headers: Record<string, string> = {};
          for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers[k] = v;
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', reject);
      });
      ws.on('error', (err) => {
        if (!/Unexpected server response/.test(err.message)) reject(err);
      });
    });

  it('counts refused WebSocket delegate tokens like refused API keys, and refuses the upgrade past the limit', async () => {
    const from = '127.0.0.7';
    // 60 refused delegate tokens over WebSocket and 40 refused API keys: one budget per address.
    const codes: number[] = [];
    for (let i = 0; i < 60; i++) {
      const r = await upgrade(`atd_wrong_${i}`, from);
      codes.push('closeCode' in r ? r.closeCode : -r.status);
    }
    expect(codes).toEqual(Array(60).fill(WS_CLOSE.UNAUTHENTICATED));
    for (let i = 0; i < 39; i++) {
      expect((await httpFrom(`${cp.httpUrl}/v1/delegates`, { headers: { authorization: `Bearer atk_wrong_${i}` }, localAddress: from })).status).toBe(401);
    }
    // The 100th failure; the API then refuses this address even with a valid key.
    expect((await httpFrom(`${cp.httpUrl}/v1/delegates`, { headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from })).status).toBe(200);
    const last = await upgrade('atd_wrong_last', from);
    expect(last).toEqual({ closeCode: WS_CLOSE.UNAUTHENTICATED });
    expect((await httpFrom(`${cp.httpUrl}/v1/delegates`, { headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from })).status).toBe(429);

    // A valid delegate token from that address is refused before the upgrade, with the API's answer.
    const created = await httpFrom(`${cp.httpUrl}/v1/delegate-tokens`, { method: 'POST', body: '{"name":"edge-ws"}', headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: '127.0.0.8' });
    expect(created.status).toBe(201);
    const token = JSON.parse(created.body).token as string;
    const blocked = await upgrade(token, from);
    if (!('status' in blocked)) throw new Error(`the upgrade was not refused: closed with ${blocked.closeCode}`);
    expect(blocked.status).toBe(429);
    expect(JSON.parse(blocked.body).error.code).toBe('AUTH_RATE_LIMITED');
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(blocked.headers['x-content-type-options']).toBe('nosniff');
    // The same token from another address upgrades and gets past the token check (no 4401).
    const elsewhere = new WebSocket(`ws://127.0.0.1:${port}${WEBSOCKET_CONNECT_PATH}`, { headers: { authorization: `Bearer ${token}` }, localAddress: '127.0.0.8' });
    await new Promise<void>((resolve, reject) => {
      elsewhere.on('open', () => resolve());
      elsewhere.on('error', reject);
    });
    const closed = await Promise.race([
      new Promise<number>((resolve) => elsewhere.on('close', (code) => resolve(code))),
      new Promise<'open'>((resolve) => setTimeout(() => resolve('open'), 1_000)),
    ]);
    expect(closed).toBe('open');
    elsewhere.terminate();
  });

  it('says nosniff on every answer and no-store on answers that carry a new key or token', async () => {
    const from = '127.0.0.5';
    const answers = [
      await httpFrom(`${cp.httpUrl}/healthz`, { localAddress: from }),
      await httpFrom(`${cp.httpUrl}/readyz`, { localAddress: from }),
      await httpFrom(`${cp.httpUrl}/v1/delegates`, { headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from }),
      await httpFrom(`${cp.httpUrl}/v1/tasks/tsk_missing`, { headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from }),
      await httpFrom(`${cp.httpUrl}/v1/nope`, { headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from }),
      await httpFrom(`${cp.httpUrl}/v1/tasks`, { method: 'POST', body: '{', headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from }),
      await httpFrom(`${cp.httpUrl}/v1/delegates`, { localAddress: from }),
      // A request Node itself refuses before Fastify sees it.
      await rawHttp(port, 'NOT AN HTTP REQUEST\r\n\r\n', from),
    ];
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 404, 404, 400, 401, 400]);
    for (const a of answers) expect(a.headers['x-content-type-options']).toBe('nosniff');

    const created = await httpFrom(`${cp.httpUrl}/v1/tenants`, { method: 'POST', body: '{"name":"edge-headers"}', headers: { authorization: `Bearer ${cp.operator.key}` }, localAddress: from });
    expect(created.status).toBe(201);
    expect(JSON.parse(created.body).apiKey).toMatch(/^atk_/);
    expect(created.headers['cache-control']).toBe('no-store');
    const token = await httpFrom(`${cp.httpUrl}/v1/delegate-tokens`, { method: 'POST', body: '{"name":"gw"}', headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from });
    expect(token.status).toBe(201);
    expect(JSON.parse(token.body).token).toMatch(/^atd_/);
    expect(token.headers['cache-control']).toBe('no-store');
    expect(token.headers['x-content-type-options']).toBe('nosniff');
    // Every other answer that carries a new API key: issued, rotated, issued by the operator.
    const tenantId = JSON.parse(created.body).id as string;
    const issued = await httpFrom(`${cp.httpUrl}/v1/api-keys`, { method: 'POST', body: '{"name":"ci","role":"viewer"}', headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from });
    expect(issued.status, issued.body).toBe(201);
    const rotated = await httpFrom(`${cp.httpUrl}/v1/api-keys/${JSON.parse(issued.body).id}/rotate`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from });
    expect(rotated.status, rotated.body).toBe(200);
    const admin = await httpFrom(`${cp.httpUrl}/v1/tenants/${tenantId}/admin-credentials`, { method: 'POST', body: '{}', headers: { authorization: `Bearer ${cp.operator.key}` }, localAddress: from });
    expect(admin.status, admin.body).toBe(201);
    for (const [answer, key] of [
      [issued, JSON.parse(issued.body).apiKey],
      [rotated, JSON.parse(rotated.body).apiKey],
      [admin, JSON.parse(admin.body).apiKey.apiKey],
    ] as const) {
      expect(key).toMatch(/^atk_/);
      expect(answer.headers['cache-control']).toBe('no-store');
    }
    // A listing carries no secret and may be cached as usual.
    const listed = await httpFrom(`${cp.httpUrl}/v1/api-keys`, { headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from });
    expect(listed.status).toBe(200);
    expect(listed.headers['cache-control']).toBeUndefined();
  });

  it('requires the metrics token on /metrics when ATTACHE_METRICS_TOKEN is set', async () => {
    const from = '127.0.0.6';
    const anonymous = await httpFrom(`${cp.httpUrl}/metrics`, { localAddress: from });
    expect(anonymous.status).toBe(401);
    expect(JSON.parse(anonymous.body).error.message).toMatch(/ATTACHE_METRICS_TOKEN/);
    expect((await httpFrom(`${cp.httpUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` }, localAddress: from })).status).toBe(401);
    // A tenant key is not the metrics token.
    expect((await httpFrom(`${cp.httpUrl}/metrics`, { headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from })).status).toBe(401);
    const ok = await httpFrom(`${cp.httpUrl}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` }, localAddress: from });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatch(/^# HELP attache_/m);
    expect(ok.headers['x-content-type-options']).toBe('nosniff');
  });

  it('counts refused gRPC delegate tokens too, and refuses an address past the limit with RESOURCE_EXHAUSTED before its token is looked at', async () => {
    const from = '127.0.0.9';
    // grpc-js cannot choose its source address: a TCP relay on 127.0.0.1 dials the carrier from `from`.
    const grpcPort = Number(new URL(cp.grpcUrl).port);
    const open = new Set<Socket>();
    const relay: Server = createServer((client) => {
      const upstream = connect({ host: '127.0.0.1', port: grpcPort, localAddress: from });
      for (const s of [client, upstream]) {
        open.add(s);
        s.on('error', () => undefined);
        s.on('close', () => open.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const url = `grpc://127.0.0.1:${(relay.address() as { port: number }).port}`;
    const attempt = async (token: string) => {
      const client = openFrameClient(url, token);
      const end = await Promise.race([client.ended, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
      client.close();
      if (end === null) throw new Error('the gRPC stream was not ended within 10 s');
      return end.carrierReason;
    };
    try {
      for (let i = 0; i < 100; i++) expect(await attempt(`atd_wrong_grpc_${i}`)).toMatch(/^UNAUTHENTICATED: /);
      expect((await httpFrom(`${cp.httpUrl}/v1/delegates`, { headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: from })).status).toBe(429);
      const created = await httpFrom(`${cp.httpUrl}/v1/delegate-tokens`, { method: 'POST', body: '{"name":"edge-grpc"}', headers: { authorization: `Bearer ${tenant.api.key}` }, localAddress: '127.0.0.10' });
      expect(created.status).toBe(201);
      // A valid token from that address: refused as "retry later", naming the limit, never reaching the token check.
      expect(await attempt(JSON.parse(created.body).token as string)).toMatch(/^RESOURCE_EXHAUSTED: AUTH_RATE_LIMITED: Too many failed authentications from 127\.0\.0\.9 .*Retry after \d+ s/);
    } finally {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });
});
