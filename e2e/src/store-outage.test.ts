import { create, toBinary } from '@bufbuild/protobuf';
import { echo } from '@attache/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, eventually, startControlPlane, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { startPostgres, type PostgresServer } from './support/postgres.js';
import { jsonLines } from './support/process.js';
import { ScriptedDelegate } from './support/scripted-delegate.js';

/**
 * A Result that arrives while PostgreSQL is down: the delegate has already let go of the task, so
 * the control plane is the only holder of the outcome. It must keep it and record it once the
 * database is back, without dropping the delegate's connection or running the task again.
 */
describe('store outage: a result that arrives while PostgreSQL is down', () => {
  let pg: PostgresServer;
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let token: string;

  beforeAll(async () => {
    pg = await startPostgres();
    // The scripted delegate heartbeats only when told to: a long timeout keeps its connection open.
    cp = await startControlPlane({ ATTACHE_DATABASE_URL: await pg.createDatabase('outage'), ATTACHE_HEARTBEAT_TIMEOUT_MS: '60000' });
    tenant = await createTenant(cp, 'outage');
    token = (await createToken(tenant)).token;
  });
  afterAll(async () => {
    await cp?.stop();
    await pg?.stop();
  });

  it('is kept, recorded once the database is back, and the task succeeds at attempt 1 on the same connection', async () => {
    const d = new ScriptedDelegate(cp.grpcUrl, token);
    try {
      await d.register('outage-1');
      const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'outlived the outage' }, selectors: ['outage-1'] });
      expect(created.status).toBe(201);
      const id = created.body.id as string;
      await d.next((f) => f.frame.case === 'assign' && f.frame.value.taskId === id);
      d.send({ case: 'accepted', value: { taskId: id, attempt: 1 } });
      await eventually(async () => ((await tenant.api.get(`/v1/tasks/${id}`)).body.state === 'running' ? true : undefined), 10_000, 'running');

      await pg.halt();
      const bytes = toBinary(echo.EchoResultSchema, create(echo.EchoResultSchema, { message: 'outlived the outage' }));
      d.send({ case: 'result', value: { taskId: id, attempt: 1, outcome: { case: 'success', value: bytes } } });
      await eventually(
        async () => (jsonLines(cp.proc).some((l) => l['msg'] === 'could not record a result; retrying' && l['taskId'] === id) ? true : undefined),
        10_000,
        'the failed write to be logged',
      );
      // The delegate no longer holds the task, and says so: that must not requeue a result the
      // control plane is holding.
      d.send({ case: 'heartbeat', value: { inFlight: 0, held: [], listsHeld: true } });
      await new Promise((r) => setTimeout(r, 1_000));
      await pg.resume();

      const done = await tenant.api.get(`/v1/tasks/${id}?waitSeconds=30`);
      expect(done.body).toMatchObject({ state: 'succeeded', attempt: 1, result: { message: 'outlived the outage' } });
      await eventually(
        async () => (jsonLines(cp.proc).some((l) => l['msg'] === 'recorded a result after retrying' && l['taskId'] === id) ? true : undefined),
        5_000,
        'the retried write to be logged',
      );
      // Same connection throughout: no Goodbye, and it still gets work.
      expect(d.received.some((f) => f.frame.case === 'goodbye')).toBe(false);
      const next = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'after' }, selectors: ['outage-1'] });
      await d.next((f) => f.frame.case === 'assign' && f.frame.value.taskId === next.body.id);
    } finally {
      d.close();
    }
  });
});
