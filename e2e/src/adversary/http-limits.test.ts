import { connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, startDelegate, startControlPlane, waitForDelegates, type ControlPlaneHandle, type TenantHandle } from '../support/cluster.js';
import type { Proc } from '../support/process.js';
import { httpFrom } from '../support/raw-http.js';

interface Tracked {
  socket: Socket;
  connected: boolean;
  closedAt: number | null;
}

/** Opens `count` connections from `localAddress`, each sending a partial request header then one more header line every `trickleMs`. */
function slowHeaderSockets(port: number, count: number, localAddress: string, trickleMs: number): Tracked[] {
  const out: Tracked[] = [];
  for (let i = 0; i < count; i++) {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const t: Tracked = { socket, connected: false, closedAt: null };
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      t.connected = true;
      socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      timer = setInterval(() => socket.write(`X-Slow-${i}: still coming\r\n`), trickleMs);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      t.closedAt = Date.now();
    });
    out.push(t);
  }
  return out;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - started };
}

/**
 * Socket-level limits of the HTTP server, against a real control-plane process: a header timeout
 * and connection caps (per client address, and in total) keep slow or numerous connections from one
 * host from starving everyone else, while WebSocket delegates (long-lived, often many behind one
 * NAT) are not counted once upgraded.
 */
describe('HTTP server limits', () => {
  const sockets: Tracked[] = [];
  afterEach(() => {
    for (const t of sockets.splice(0)) t.socket.destroy();
  });

  describe('slow headers and bodies from one address', () => {
    let cp: ControlPlaneHandle;
    let tenant: TenantHandle;
    const procs: Proc[] = [];
    beforeAll(async () => {
      // 1,024 descriptors, a common default: without the caps, 1,500 connections would exhaust them
      // and nobody else could connect at all.
      cp = await startControlPlane({ ATTACHE_HTTP_HEADERS_TIMEOUT_MS: '10000', ATTACHE_HTTP_REQUEST_TIMEOUT_MS: '12000' }, { fdLimit: 1_024 });
      tenant = await createTenant(cp, 'slow-headers');
    });
    afterAll(async () => {
      await Promise.all(procs.map((p) => p.stop(2_000)));
      await cp?.stop();
    });

    it('1,500 slow-header connections from one address cannot starve the API, and are closed after the header timeout', async () => {
      const port = Number(new URL(cp.httpUrl).port);
      const started = Date.now();
      sockets.push(...slowHeaderSockets(port, 1_500, '127.0.0.9', 500));
      // Let the burst land: the server accepts every connection and closes those past the cap at
      // once. What follows is the attack's steady state, the admitted ones trickling headers.
      while (sockets.filter((t) => t.closedAt !== null).length < 1_500 - 256 && Date.now() - started < 6_000) await sleep(20);

      // While they trickle, another client is served promptly, probes and API alike.
      const latencies: number[] = [];
      for (let i = 0; i < 5; i++) {
        const health = await timed(() => httpFrom(`${cp.httpUrl}/healthz`));
        expect(health.value.status).toBe(200);
        const api = await timed(() => httpFrom(`${cp.httpUrl}/v1/delegates`, { headers: { authorization: `Bearer ${tenant.api.key}` } }));
        expect(api.value.status).toBe(200);
        latencies.push(health.ms, api.ms);
        await sleep(300);
      }
      expect(Math.max(...latencies)).toBeLessThan(1_000);

      // Before the header timeout, at most the per-address cap (default 256) are still open.
      const open = sockets.filter((t) => t.connected && t.closedAt === null).length;
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(open).toBeGreaterThan(0);
      expect(open).toBeLessThanOrEqual(256);

      // The header timeout (10 s, the default, checked every second) closes the rest although they keep sending.
      const deadline = started + 10_000 + 4_000;
      while (sockets.some((t) => t.closedAt === null) && Date.now() < deadline) await sleep(100);
      const stillOpen = sockets.filter((t) => t.closedAt === null).length;
      expect(stillOpen).toBe(0);
      const lastClose = Math.max(...sockets.map((t) => t.closedAt ?? 0));
      expect(lastClose - started).toBeGreaterThanOrEqual(10_000 - 100);
      expect((await httpFrom(`${cp.httpUrl}/healthz`, { localAddress: '127.0.0.9' })).status).toBe(200);
    });

    it('closes a connection that trickles its body past the request timeout with 408, and does not cut a long-poll answer', async () => {
      const port = Number(new URL(cp.httpUrl).port);
      const started = Date.now();
      const slowBody = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.8' });
      const chunks: Buffer[] = [];
      slowBody.on('data', (c: Buffer) => chunks.push(c));
      slowBody.on('error', () => undefined);
      await new Promise<void>((resolve) => slowBody.once('connect', () => resolve()));
      slowBody.write(`POST /v1/tasks HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${tenant.api.key}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
      const trickle = setInterval(() => slowBody.write(' '), 500);
      const closedAt = await new Promise<number>((resolve) => slowBody.once('close', () => resolve(Date.now())));
      clearInterval(trickle);
      // ATTACHE_HTTP_REQUEST_TIMEOUT_MS is 12 s here, checked every second.
      expect(closedAt - started).toBeGreaterThanOrEqual(12_000 - 100);
      expect(closedAt - started).toBeLessThan(12_000 + 3_000);
      expect(Buffer.concat(chunks).toString('utf8')).toMatch(/^HTTP\/1\.1 408 /);

      // A long-poll longer than the request timeout still gets its answer: the limit is on receiving
      // the request, not on the answer. A busy delegate keeps the second task queued.
      const { token } = await createToken(tenant, 'busy');
      procs.push(await startDelegate(tenant, { url: cp.grpcUrl, token, name: 'busy', tags: ['busy'], maxConcurrency: 1 }));
      const running = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'hold', delayMs: 30_000 }, selectors: ['busy'] });
      const queued = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'wait' }, selectors: ['busy'] });
      expect([running.status, queued.status]).toEqual([201, 201]);
      const poll = await timed(() => httpFrom(`${cp.httpUrl}/v1/tasks/${queued.body.id}?waitSeconds=14`, { headers: { authorization: `Bearer ${tenant.api.key}` } }));
      expect(poll.value.status).toBe(200);
      expect(JSON.parse(poll.value.body).state).toBe('queued');
      expect(poll.ms).toBeGreaterThanOrEqual(14_000 - 100);
    });
  });

  describe('connection caps', () => {
    let cp: ControlPlaneHandle;
    let tenant: TenantHandle;
    const procs: Proc[] = [];
    beforeAll(async () => {
      // No API call before the first test: every connection it counts is its own.
      cp = await startControlPlane({ ATTACHE_HTTP_MAX_CONNECTIONS: '12', ATTACHE_HTTP_MAX_CONNECTIONS_PER_ADDRESS: '3' });
    });
    afterAll(async () => {
      await Promise.all(procs.map((p) => p.stop(2_000)));
      await cp?.stop();
    });

    const idle = async (count: number, localAddress: string): Promise<Tracked[]> => {
      const list = slowHeaderSockets(Number(new URL(cp.httpUrl).port), count, localAddress, 60_000);
      sockets.push(...list);
      await sleep(500);
      return list;
    };

    it('caps connections per address and in total, and frees the slots when they close', async () => {
      const a = await idle(5, '127.0.0.10');
      expect(a.filter((t) => t.closedAt === null).length).toBe(3);
      // Another address still gets in while one is at its cap.
      expect((await httpFrom(`${cp.httpUrl}/healthz`, { localAddress: '127.0.0.11' })).status).toBe(200);
      await sleep(200); // that connection closes (Connection: close) and frees its slot

      // 3 + 3 + 3 + 3 = the total of 12: then even a fresh address is turned away.
      await idle(3, '127.0.0.11');
      await idle(3, '127.0.0.12');
      const d = await idle(3, '127.0.0.13');
      expect(sockets.filter((t) => t.closedAt === null).length).toBe(12);
      await expect(httpFrom(`${cp.httpUrl}/healthz`, { localAddress: '127.0.0.14' })).rejects.toThrow();

      for (const t of d) t.socket.destroy();
      await sleep(200);
      expect((await httpFrom(`${cp.httpUrl}/healthz`, { localAddress: '127.0.0.14' })).status).toBe(200);
    });

    it('does not count WebSocket delegates once upgraded: more delegates than the per-address cap connect from one address, and its API calls still work', async () => {
      for (const t of sockets.splice(0)) t.socket.destroy();
      tenant = await createTenant(cp, 'caps');
      const { token } = await createToken(tenant, 'ws');
      // Four delegates from 127.0.0.1, over the cap of 3 (each counts only until its upgrade).
      for (let i = 1; i <= 4; i++) {
        procs.push(await startDelegate(tenant, { url: cp.httpUrl.replace('http://', 'ws://'), token, name: `ws-${i}`, tags: ['ws'] }));
      }
      for (let i = 1; i <= 4; i++) await waitForDelegates(tenant, `ws-${i}`);
      const listed = await httpFrom(`${cp.httpUrl}/v1/delegates`, { headers: { authorization: `Bearer ${tenant.api.key}` } });
      expect(JSON.parse(listed.body).items.filter((d: { status: string; transport: string }) => d.status === 'connected' && d.transport === 'websocket')).toHaveLength(4);
      const task = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'through the NAT' }, selectors: ['ws'] });
      expect(task.status).toBe(201);
      const done = await tenant.api.get(`/v1/tasks/${task.body.id}?waitSeconds=20`);
      expect(done.body.state).toBe('succeeded');
    });
  });
});
