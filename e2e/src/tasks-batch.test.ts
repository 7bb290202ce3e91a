import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import type { Proc } from './support/process.js';

/** POST /v1/tasks/batch against a real control plane and delegate: per-item results, atomic batches, limits. */
describe('POST /v1/tasks/batch', () => {
  let cp: ControlPlaneHandle;
  let acme: TenantHandle;
  const procs: Proc[] = [];
  const count = async (tenant: TenantHandle) => {
    let n = 0;
    let cursor: string | null = null;
    do {
      const page: any = (await tenant.api.get(`/v1/tasks?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).body;
      n += page.items.length;
      cursor = page.nextCursor;
    } while (cursor);
    return n;
  };

  beforeAll(async () => {
    cp = await startControlPlane({ ATTACHE_MAX_QUEUED_TASKS_PER_TENANT: '1002' });
    acme = await createTenant(cp, 'acme');
    const token = await createToken(acme, 'batch');
    procs.push(await startDelegate(acme, { url: cp.grpcUrl, token: token.token, name: 'east', tags: ['aws'], maxConcurrency: 16 }));
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await cp?.stop();
  });

  it('creates 1,000 tasks in one request, each with its result in order, and the delegate runs them all', async () => {
    const res = await acme.api.post('/v1/tasks/batch', { tasks: Array.from({ length: 1000 }, (_, i) => ({ type: 'echo', payload: { message: `m${i}` } })) });
    expect(res.status, res.text).toBe(200);
    expect(res.body.created).toBe(1000);
    expect(res.body.failed).toBe(0);
    expect(res.body.results.map((r: any) => r.index)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(res.body.results.every((r: any) => r.status === 201 && r.task.state === 'queued')).toBe(true);
    const last = res.body.results[999].task;
    expect(last.payload).toEqual({ message: 'm999' });
    const done = await acme.api.get(`/v1/tasks/${last.id}?waitSeconds=60`);
    expect(done.body).toMatchObject({ state: 'succeeded', result: { message: 'm999' } });
    const first = await acme.api.get(`/v1/tasks/${res.body.results[0].task.id}?waitSeconds=60`);
    expect(first.body.state).toBe('succeeded');
  });

  it('reports partial failure per item and creates the rest', async () => {
    const before = await count(acme);
    const res = await acme.api.post('/v1/tasks/batch', {
      tasks: [
        { type: 'echo', payload: { message: 'ok' } },
        { type: 'echo', payload: { message: 'x' }, selectors: ['NOT A TAG'] },
        { type: 'aws.validate', payload: {} },
        { type: 'echo', payload: { message: 'y'.repeat(70_000) } },
        { type: 'echo', payload: { message: 'also ok' }, selectors: ['gpu'] },
      ],
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.results.map((r: any) => [r.index, r.status, r.error?.code ?? r.task.state])).toEqual([
      [0, 201, 'queued'],
      [1, 400, 'VALIDATION_FAILED'],
      [2, 400, 'VALIDATION_FAILED'],
      [3, 413, 'PAYLOAD_TOO_LARGE'],
      // Created, but no connected delegate carries "gpu": it ends at once, as POST /v1/tasks does.
      [4, 201, 'failed'],
    ]);
    expect(res.body.results[4].task.error.code).toBe('NO_ELIGIBLE_DELEGATE');
    expect(res.body.results[1].error.message).toMatch(/tasks\.1/);
    expect(res.body).toMatchObject({ created: 2, failed: 3 });
    expect(await count(acme)).toBe(before + 2);
  });

  it('with atomic: true creates nothing when one item fails, and everything when none does', async () => {
    const before = await count(acme);
    const refused = await acme.api.post('/v1/tasks/batch', {
      atomic: true,
      tasks: [{ type: 'echo', payload: { message: 'a' } }, { type: 'echo', payload: { nope: 1 } }, { type: 'echo', payload: { message: 'c' } }],
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('VALIDATION_FAILED');
    expect(refused.body.error.message).toMatch(/^Nothing was created \(atomic batch\): 1 of 3 tasks failed; item 1:/);
    expect(refused.body.error.details.failures.map((f: any) => f.index)).toEqual([1]);
    expect(await count(acme)).toBe(before);
    const accepted = await acme.api.post('/v1/tasks/batch', { atomic: true, tasks: [{ type: 'echo', payload: { message: 'a' } }, { type: 'echo', payload: { message: 'b' } }] });
    expect(accepted.status).toBe(200);
    expect(accepted.body.created).toBe(2);
    expect(await count(acme)).toBe(before + 2);
  });

  it('refuses more than 1,000 items with BATCH_TOO_LARGE, and applies the queue quota per item', async () => {
    const tooMany = await acme.api.post('/v1/tasks/batch', { tasks: Array.from({ length: 1001 }, () => ({ type: 'echo', payload: { message: 'm' } })) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toMatchObject({ code: 'BATCH_TOO_LARGE', details: { max: 1000, count: 1001 } });
    expect((await acme.api.post('/v1/tasks/batch', { tasks: [] })).status).toBe(400);

    // A tenant whose delegate is slow: its tasks stay open, and the quota (1,002) counts the batch's own items.
    const slow = await createTenant(cp, 'slow');
    const token = await createToken(slow, 'slow');
    procs.push(await startDelegate(slow, { url: cp.grpcUrl, token: token.token, name: 'slow', maxConcurrency: 1 }));
    const res = await slow.api.post('/v1/tasks/batch', { tasks: Array.from({ length: 1000 }, () => ({ type: 'echo', payload: { message: 'm', delayMs: 30_000 } })) });
    expect(res.body.created).toBe(1000);
    const more = await slow.api.post('/v1/tasks/batch', { tasks: Array.from({ length: 4 }, () => ({ type: 'echo', payload: { message: 'm', delayMs: 30_000 } })) });
    expect(more.body.results.map((r: any) => r.status)).toEqual([201, 201, 429, 429]);
    expect(more.body.results[2].error.code).toBe('QUOTA_EXCEEDED');
    const atomic = await slow.api.post('/v1/tasks/batch', { atomic: true, tasks: [{ type: 'echo', payload: { message: 'm' } }] });
    expect(atomic.status).toBe(429);
    expect(atomic.body.error.code).toBe('QUOTA_EXCEEDED');
  });

  it('is audited once per batch', async () => {
    const audit = await acme.api.get('/v1/audit?action=task.create_batch');
    expect(audit.status, audit.text).toBe(200);
    const names = audit.body.items.map((e: any) => e.target.name);
    expect(names).toEqual(expect.arrayContaining(['1000 of 1000 tasks created', '2 of 5 tasks created', '0 of 3 tasks created']));
    expect(audit.body.items.filter((e: any) => e.action === 'task.create').length).toBe(0);
  });
});
