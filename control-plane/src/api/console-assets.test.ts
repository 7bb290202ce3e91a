import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CONSOLE_CSP, serveConsole } from './console-assets.js';

describe('the console served at /', () => {
  let dir: string;
  let app: FastifyInstance;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-console-'));
  });
  afterEach(async () => {
    await app?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async () => {
    app = Fastify();
    serveConsole(app, { dir });
    app.get('/v1/things', async () => ({ api: true }));
    app.get('/healthz', async () => ({ status: 'ok' }));
    await app.ready();
  };
  const build = async () => {
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><script type="module" src="/assets/index-abc123.js"></script>');
    await writeFile(join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    await writeFile(join(dir, 'assets', 'index-def456.css'), 'body{}');
  };

  it('answers console pages with index.html, never cached, under a CSP with no other origin', async () => {
    await build();
    await start();
    for (const path of ['/', '/accounts', '/accounts/acc_123', '/accounts/new?x=1', '/tasks/tsk_1', '/tokens', '/api-keys']) {
      const res = await app.inject({ method: 'GET', url: path });
      expect(res.statusCode, path).toBe(200);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
      expect(res.body).toContain('/assets/index-abc123.js');
    }
    expect(CONSOLE_CSP).toMatch(/default-src 'none'/);
    expect(CONSOLE_CSP).toMatch(/script-src 'self';/);
    expect(CONSOLE_CSP).not.toMatch(/https?:|unsafe-inline|unsafe-eval|\*/);
  });

  it('serves hashed assets as immutable, with their content type, and only files that exist', async () => {
    await build();
    await start();
    const js = await app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toBe('console.log(1)');
    expect((await app.inject({ method: 'GET', url: '/assets/index-def456.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await app.inject({ method: 'HEAD', url: '/assets/index-abc123.js' })).statusCode).toBe(200);
    for (const path of ['/assets/missing.js', '/assets/../index.html', '/assets/%2e%2e/index.html']) {
      expect((await app.inject({ method: 'GET', url: path })).statusCode, path).toBe(404);
    }
  });

  it('never shadows a route, the API or another unknown path', async () => {
    await build();
    await start();
    expect((await app.inject({ method: 'GET', url: '/v1/things' })).json()).toEqual({ api: true });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    // An unknown API path or a path that is no console page stays the API's 404 (401 with access control).
    for (const path of ['/v1/accounts', '/v1/nothing/here', '/metrics', '/readyz', '/wp-admin', '/index.html', '//v1/delegates', '//', '//accounts']) {
      expect((await app.inject({ method: 'GET', url: path })).statusCode, path).toBe(404);
    }
    expect((await app.inject({ method: 'POST', url: '/accounts' })).statusCode).toBe(404);
  });

  it('without a build the API still starts, and / says how to build the console', async () => {
    await start();
    const res = await app.inject({ method: 'GET', url: '/' });
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('CONSOLE_NOT_BUILT');
    expect(res.json().error.message).toMatch(/npm run build/);
    expect((await app.inject({ method: 'GET', url: '/v1/things' })).json()).toEqual({ api: true });
  });
});
