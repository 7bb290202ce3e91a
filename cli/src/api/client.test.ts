import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitCode } from '../exit-codes.js';
import { ApiClient } from './client.js';

/**
 * The client's mapping of HTTP answers to results and errors. The server is the unit seam: it
 * answers what a control plane (or a proxy in front of one) may answer, on loopback.
 */
describe('ApiClient', () => {
  let server: Server;
  let base: string;
  const seen: Array<{ method: string; url: string; auth: string | undefined; body: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method!, url: req.url!, auth: req.headers.authorization, body });
        const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(value));
        if (req.url!.startsWith('/prefix/v1/ok')) return json(200, { items: [1] });
        if (req.url!.startsWith('/prefix/v1/paged')) {
          // Three pages: no cursor, then c1, then c2 (the last, nextCursor null).
          const cursor = new URL(req.url!, 'http://x').searchParams.get('cursor');
          const pages: Record<string, { items: number[]; nextCursor: string | null }> = { '': { items: [1, 2], nextCursor: 'c1' }, c1: { items: [3], nextCursor: 'c2' }, c2: { items: [4], nextCursor: null } };
          return json(200, pages[cursor ?? '']);
        }
        if (req.url === '/prefix/v1/missing') return json(404, { error: { code: 'NOT_FOUND', message: 'No route GET /v1/missing.', details: {} } });
        if (req.url === '/prefix/v1/denied') return json(401, { error: { code: 'UNAUTHENTICATED', message: 'The API key is not valid.', details: {} } });
        if (req.url === '/prefix/v1/invalid') return json(424, { error: { code: 'MISSING_PERMISSION', message: 'iam:ListPolicies denied.', details: { action: 'iam:ListPolicies' } } });
        res.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('lists every page of a list route, asking for the largest pages', async () => {
    const api = new ApiClient(base, 'atk_k');
    const before = seen.length;
    expect(await api.list('/v1/paged', { state: 'queued' })).toEqual({ items: [1, 2, 3, 4] });
    expect(seen.slice(before).map((r) => r.url)).toEqual([
      '/prefix/v1/paged?state=queued&limit=500',
      '/prefix/v1/paged?state=queued&limit=500&cursor=c1',
      '/prefix/v1/paged?state=queued&limit=500&cursor=c2',
    ]);
  });

  it('keeps the base URL\'s path, sends the key, the query and a JSON body', async () => {
    const api = new ApiClient(base, 'atk_k');
    const answer = await api.post('/v1/ok', { name: 'x' }, { waitSeconds: 1, skipped: undefined });
    expect(answer).toMatchObject({ status: 200, body: { items: [1] } });
    expect(seen.at(-1)).toEqual({ method: 'POST', url: '/prefix/v1/ok?waitSeconds=1', auth: 'Bearer atk_k', body: '{"name":"x"}' });
  });

  it('an API error keeps its code, sentence and details; the status picks the exit code', async () => {
    const api = new ApiClient(base, 'atk_k');
    await expect(api.get('/v1/missing')).rejects.toMatchObject({ code: 'NOT_FOUND', message: 'No route GET /v1/missing.', status: 404, exitCode: ExitCode.NOT_FOUND });
    await expect(api.get('/v1/denied')).rejects.toMatchObject({ code: 'UNAUTHENTICATED', exitCode: ExitCode.AUTH });
    await expect(api.get('/v1/invalid')).rejects.toMatchObject({ code: 'MISSING_PERMISSION', details: { action: 'iam:ListPolicies' }, exitCode: ExitCode.FAILURE });
  });

  it('an answer that is not the API\'s (a proxy\'s page) is HTTP_<status> with its start', async () => {
    await expect(new ApiClient(base, 'k').get('/v1/other')).rejects.toMatchObject({ code: 'HTTP_502', message: expect.stringContaining('Bad Gateway'), exitCode: ExitCode.FAILURE });
  });

  it('a control plane that does not answer is UNREACHABLE, naming the address', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(new ApiClient(`http://127.0.0.1:${port}`, 'k').get('/v1/ok')).rejects.toMatchObject({
      code: 'UNREACHABLE',
      message: expect.stringContaining(`http://127.0.0.1:${port} (ECONNREFUSED)`),
      exitCode: ExitCode.FAILURE,
    });
  });
});
