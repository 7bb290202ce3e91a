import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import type { Proc } from './support/process.js';

/** POST /v1/tasks?waitSeconds=N: create and wait in one request, through a real delegate. */
describe('POST /v1/tasks?waitSeconds', () => {
  let cp: ControlPlaneHandle;
  let acme: TenantHandle;
  const procs: Proc[] = [];

  beforeAll(async () => {
    cp = await startControlPlane();
    acme = await createTenant(cp, 'acme');
    const token = await createToken(acme, 'wait');
    procs.push(await startDelegate(acme, { url: cp.grpcUrl, token: token.token, name: 'east', maxConcurrency: 2 }));
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await cp?.stop();
  });

  it('answers 200 with the ended task, the same view GET answers', async () => {
    const res = await acme.api.post('/v1/tasks?waitSeconds=20', { type: 'echo', payload: { message: 'hello' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ state: 'succeeded', result: { message: 'hello' }, delegate: { name: 'east' } });
    expect(res.body).toEqual((await acme.api.get(`/v1/tasks/${res.body.id}`)).body);
  });

  it('answers 202 with the task still running when the wait is over', async () => {
    const started = Date.now();
    const res = await acme.api.post('/v1/tasks?waitSeconds=1', { type: 'echo', payload: { message: 'slow', delayMs: 5_000 } });
    expect(res.status).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(['queued', 'assigned', 'running']).toContain(res.body.state);
    const done = await acme.api.get(`/v1/tasks/${res.body.id}?waitSeconds=20`);
    expect(done.body.state).toBe('succeeded');
  });

  it('answers 200 at once for a task that fails at creation, 201 without a wait, and 400 past 60 s', async () => {
    const failed = await acme.api.post('/v1/tasks?waitSeconds=30', { type: 'echo', payload: { message: 'x' }, selectors: ['gpu'] });
    expect(failed.status).toBe(200);
    expect(failed.body.error.code).toBe('NO_ELIGIBLE_DELEGATE');
    expect((await acme.api.post('/v1/tasks', { type: 'echo', payload: { message: 'x' } })).status).toBe(201);
    expect((await acme.api.post('/v1/tasks?waitSeconds=0', { type: 'echo', payload: { message: 'x' } })).status).toBe(201);
    const tooLong = await acme.api.post('/v1/tasks?waitSeconds=61', { type: 'echo', payload: { message: 'x' } });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.code).toBe('VALIDATION_FAILED');
  });
});
