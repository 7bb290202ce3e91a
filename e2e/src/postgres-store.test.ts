import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  createToken,
  startControlPlane,
  startDelegate,
  type ControlPlaneHandle,
  waitForDelegates,
  type TenantHandle,
} from './support/cluster.js';
import type { Proc } from './support/process.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';

/**
 * A control plane on PostgreSQL (ATTACHE_DATABASE_URL): tasks run through it, its data outlives the
 * process, and readiness follows the database down and back up.
 */
describe('control plane on PostgreSQL', () => {
  let pg: PostgresServer;
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let delegate: Proc;

  beforeAll(async () => {
    pg = await startPostgres();
    const url = await pg.createDatabase('attache');
    cp = await startControlPlane({ ATTACHE_DATABASE_URL: url });
    tenant = await createTenant(cp, 'acme');
    const { token } = await createToken(tenant);
    delegate = await startDelegate(tenant, { url: cp.grpcUrl, token, name: 'pg-east', tags: ['east'] });
  });
  afterAll(async () => {
    await delegate?.stop();
    await cp?.stop();
    await pg?.stop();
  });

  async function echo(message: string): Promise<any> {
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message }, selectors: ['east'] });
    expect(created.status).toBe(201);
    return (await tenant.api.get(`/v1/tasks/${created.body.id}?waitSeconds=20`)).body;
  }

  async function readiness(): Promise<{ status: number; body: any; ms: number }> {
    const started = Date.now();
    const res = await fetch(`${cp.httpUrl}/readyz`);
    return { status: res.status, body: await res.json(), ms: Date.now() - started };
  }

  it('runs tasks and keeps its data across a control-plane restart', async () => {
    expect(await echo('hello')).toMatchObject({ state: 'succeeded', result: { message: 'hello' } });
    const ready = await readiness();
    expect(ready.status).toBe(200);
    expect(ready.body.checks.store).toBe('ok');

    await cp.restart();
    // The tenant's key, kept only in PostgreSQL, still authenticates; the delegate reconnects.
    expect((await tenant.api.get('/v1/tasks')).status).toBe(200);
    await waitForDelegates(tenant, 'pg-east', 1, 60_000);
    expect(await echo('again')).toMatchObject({ state: 'succeeded', result: { message: 'again' } });
  });

  it('reports not ready, quickly, while PostgreSQL is down, and ready again once it is back', async () => {
    await pg.halt();
    try {
      const down = await readiness();
      expect(down.status).toBe(503);
      expect(down.body.checks.store).toMatch(/^failing/);
      expect(down.ms).toBeLessThan(3_000);
    } finally {
      await pg.resume();
    }
    for (let i = 0; ; i++) {
      const up = await readiness();
      if (up.status === 200) break;
      expect(i).toBeLessThan(100);
      await sleep(100);
    }
    expect(cp.proc.running).toBe(true);
    // The outage may have cost the delegate its session (a heartbeat the store could not record);
    // it reconnects with backoff.
    await waitForDelegates(tenant, 'pg-east', 1, 60_000);
    expect(await echo('after the outage')).toMatchObject({ state: 'succeeded' });
  });
});
