import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ROUTE_ACCESS, startControlPlane, type Access, type RunningControlPlane } from '@attache/control-plane';
import { Api } from './support/api.js';
import { Browser } from './support/browser.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

const ROLES = ['viewer', 'editor', 'admin'] as const;
type Role = (typeof ROLES)[number];
const PASSWORD = 'walk every route please';

interface Caller {
  label: string;
  role: Role | 'operator';
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

/** Must this caller be refused with 403 on a route needing `access`? The rule stated independently of the server's. */
function mustForbid(access: Access, role: Role | 'operator'): boolean {
  // `metrics` is open here: the walk's control plane has no ATTACHE_METRICS_TOKEN.
  if (access === 'public' || access === 'metrics' || access === 'delegate' || access === 'sign-in' || access === 'signed-in') return false;
  if (access === 'operator') return role !== 'operator';
  return role === 'operator' || ROLES.indexOf(role) < ROLES.indexOf(access);
}

/**
 * Every route Fastify registered, called by every kind of caller: the operator key, an API key of
 * each role and a cookie session of each role. 403 FORBIDDEN naming the role needed exactly where
 * the caller's role is below the route's; anything but 401/403 everywhere else. On both stores: the
 * credentials (keys, sessions, roles) are read from the one the control plane runs on.
 */
describe.each([
  { store: 'SQLite', database: false },
  { store: 'PostgreSQL', database: true },
])('every route checks the role from the route table ($store)', ({ database }) => {
  let pg: PostgresServer | undefined;
  let cp: RunningControlPlane;
  let dataDir: string;
  const callers: Caller[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'attache-walk-'));
    const operatorKey = `atop_walk_${Math.random().toString(36).slice(2)}_operator_key`;
    if (database) pg = await startPostgres();
    cp = await startControlPlane(
      loadConfig({
        ATTACHE_DATA_DIR: dataDir,
        ATTACHE_HTTP_ADDR: '127.0.0.1:0',
        ATTACHE_GRPC_ADDR: '127.0.0.1:0',
        ATTACHE_OPERATOR_KEY: operatorKey,
        ATTACHE_LOG_LEVEL: 'silent',
        ...(pg ? { ATTACHE_DATABASE_URL: await pg.createDatabase('route_walk') } : {}),
      }),
    );
    const operator = new Api(cp.httpUrl, operatorKey);
    const tenant = await operator.post('/v1/tenants', { name: 'walk', admin: { email: 'admin@walk.example', name: 'Admin', password: PASSWORD } });
    expect(tenant.status, tenant.text).toBe(201);
    const admin = operator.withKey(tenant.body.apiKey);
    const bearer = (label: string, role: Role | 'operator', api: Api): Caller => ({ label, role, call: (m, p, b) => api.request(m, p, b) });
    callers.push(bearer('operator key', 'operator', operator), bearer('initial admin key', 'admin', admin));
    for (const role of ROLES) {
      const key = await admin.post('/v1/api-keys', { name: `${role} key`, role });
      callers.push(bearer(`${role} API key`, role, admin.withKey(key.body.apiKey)));
      const email = `${role}-user@walk.example`;
      if (role !== 'admin') expect((await admin.post('/v1/users', { email, name: role, role, password: PASSWORD })).status).toBe(201);
      const browser = new Browser(cp.httpUrl);
      expect((await browser.signIn(role === 'admin' ? 'admin@walk.example' : email, PASSWORD)).status).toBe(201);
      callers.push({ label: `${role} cookie session`, role, call: (m, p, b) => browser.request(m, p, b) });
    }
  });
  afterAll(async () => {
    await cp?.stop();
    await pg?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('registers a route for every table entry, and the table covers every route', () => {
    const registered = new Set(cp.routes.map((r) => `${r.method} ${r.url}`));
    // The NATS credentials route exists only with a NATS signing key.
    const expected = Object.keys(ROUTE_ACCESS).filter((r) => r !== 'POST /v1/delegate/nats-credentials');
    expect([...registered].sort()).toEqual(expected.sort());
    for (const r of cp.routes) expect(r.access).toBe(ROUTE_ACCESS[`${r.method} ${r.url}`]);
  });

  it('answers 403 FORBIDDEN with the role needed exactly where the caller lacks it', async () => {
    // Signing out ends the sessions the walk uses: it goes last.
    const routes = [...cp.routes].sort((a, b) => Number(a.url === '/v1/session' && a.method === 'DELETE') - Number(b.url === '/v1/session' && b.method === 'DELETE'));
    const levels = new Set(routes.map((r) => r.access));
    for (const level of ['public', 'metrics', 'sign-in', 'signed-in', 'operator', 'viewer', 'editor', 'admin']) expect(levels).toContain(level);
    const problems: string[] = [];
    let checks = 0;
    for (const route of routes) {
      // The event stream never ends by itself: an unknown type answers 400, after access control has spoken.
      const path = route.url.replace(/:(\w+)/g, 'walk-$1') + (route.url === '/v1/events' ? '?types=walk' : '');
      for (const caller of callers) {
        const res = await caller.call(route.method, path, ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined);
        checks++;
        const what = `${route.method} ${route.url} as ${caller.label}: ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`;
        if (mustForbid(route.access, caller.role)) {
          if (res.status !== 403 || res.body?.error?.code !== 'FORBIDDEN' || res.body.error.details?.requiredRole !== route.access) problems.push(`expected 403 FORBIDDEN (${route.access}): ${what}`);
        } else if (res.status === 403 || res.status === 401) {
          problems.push(`expected to pass access control: ${what}`);
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checks).toBe(routes.length * callers.length);
    expect(callers).toHaveLength(8);
  });
});
