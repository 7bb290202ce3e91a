import { join } from 'node:path';
import { SqliteStore } from '@attache/control-plane';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, eventually, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from '../support/cluster.js';
import type { Proc } from '../support/process.js';

const echo = (message: string, delayMs = 0) => ({ type: 'echo', payload: { message, delayMs }, selectors: ['quota'] });
const account = (name: string, id?: string) => ({
  ...(id ? { id } : {}),
  name,
  partition: 'aws',
  delegateSelectors: ['quota'],
  auth: { type: 'delegate' },
});

/**
 * Per-tenant quotas on work that has not ended, through every way a task is created (the tasks
 * API, account validations), against a real control-plane process and delegate.
 */
describe('quotas: queued tasks and payload bytes per tenant', () => {
  let cp: ControlPlaneHandle;
  let a: TenantHandle;
  let b: TenantHandle;
  const procs: Proc[] = [];

  beforeAll(async () => {
    cp = await startControlPlane({ ATTACHE_MAX_QUEUED_TASKS_PER_TENANT: '3', ATTACHE_MAX_QUEUED_PAYLOAD_BYTES_PER_TENANT: '2048' });
    a = await createTenant(cp, 'quota-a');
    b = await createTenant(cp, 'quota-b');
    // One slot each: the first task runs (for a minute), the next ones wait in the queue.
    for (const t of [a, b]) {
      procs.push(await startDelegate(t, { url: cp.grpcUrl, token: (await createToken(t, `q-${t.name}`)).token, name: `q-${t.name}`, tags: ['quota'], maxConcurrency: 1 }));
    }
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop(2_000)));
    await cp?.stop();
  });

  it('answers 429 QUOTA_EXCEEDED past the task count, naming the limit and the variable, for tasks and validations alike, per tenant', async () => {
    const created: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await a.api.post('/v1/tasks', echo(`slow-${i}`, 60_000));
      expect(res.status).toBe(201);
      created.push(res.body.id as string);
    }
    await eventually(async () => ((await a.api.get(`/v1/tasks/${created[0]}`)).body.state === 'running' ? true : undefined), 15_000, 'the first task to run');

    const refused = await a.api.post('/v1/tasks', echo('one too many'));
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('QUOTA_EXCEEDED');
    expect(refused.body.error.message).toMatch(/3 tasks that have not ended/);
    expect(refused.body.error.message).toMatch(/ATTACHE_MAX_QUEUED_TASKS_PER_TENANT=3/);
    expect(refused.body.error.details).toMatchObject({ limit: 'ATTACHE_MAX_QUEUED_TASKS_PER_TENANT', max: 3, current: 3 });

    // A validation creates a task too: refused the same way, and the account is not left "validating".
    const acct = await a.api.post('/v1/aws/accounts', account('quota-prod'));
    expect(acct.status).toBe(201);
    const validate = await a.api.post(`/v1/aws/accounts/${acct.body.id}/validate`);
    expect(validate.status).toBe(429);
    expect(validate.body.error.code).toBe('QUOTA_EXCEEDED');
    expect((await a.api.get(`/v1/aws/accounts/${acct.body.id}`)).body.status).toBe('unvalidated');

    // Another tenant's quota is its own.
    const other = await b.api.post('/v1/tasks', echo('b is fine'));
    expect(other.status).toBe(201);

    // Ending a task (here: cancelling the running one) frees a place.
    expect((await a.api.post(`/v1/tasks/${created[0]}/cancel`)).status).toBe(200);
    const again = await a.api.post('/v1/tasks', echo('room again', 60_000));
    expect(again.status).toBe(201);
    for (const id of [...created.slice(1), again.body.id]) await a.api.post(`/v1/tasks/${id}/cancel`);
  });

  it('answers 429 QUOTA_EXCEEDED when the payloads of the tenant’s tasks that have not ended would pass the byte cap', async () => {
    const first = await a.api.post('/v1/tasks', echo('x'.repeat(900), 60_000));
    expect(first.status).toBe(201);
    const second = await a.api.post('/v1/tasks', echo('y'.repeat(900), 60_000));
    expect(second.status).toBe(201);
    const big = await a.api.post('/v1/tasks', echo('z'.repeat(900)));
    expect(big.status).toBe(429);
    expect(big.body.error.code).toBe('QUOTA_EXCEEDED');
    expect(big.body.error.message).toMatch(/ATTACHE_MAX_QUEUED_PAYLOAD_BYTES_PER_TENANT/);
    expect(big.body.error.message).toMatch(/2048 bytes/);
    expect(big.body.error.details.limit).toBe('ATTACHE_MAX_QUEUED_PAYLOAD_BYTES_PER_TENANT');
    // A small one still fits.
    const small = await a.api.post('/v1/tasks', echo('s'));
    expect(small.status).toBe(201);
    for (const id of [first.body.id, second.body.id, small.body.id]) await a.api.post(`/v1/tasks/${id}/cancel`);
  });
});

describe('accounts: ids are unique per tenant', () => {
  let cp: ControlPlaneHandle;
  beforeAll(async () => {
    cp = await startControlPlane();
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('lets tenant B create an account with tenant A’s id: no conflict, no oracle, and neither sees the other’s', async () => {
    const a = await createTenant(cp, 'ids-a');
    const b = await createTenant(cp, 'ids-b');
    const id = 'acc_0123456789abcdefghjkmnpqrs';
    const mine = await a.api.post('/v1/aws/accounts', account('prod', id));
    expect(mine.status).toBe(201);
    // A probe with an id B does not have answers like any unknown id, and creating it simply works.
    const probe = await b.api.get(`/v1/aws/accounts/${id}`);
    expect(probe.status).toBe(404);
    const theirs = await b.api.post('/v1/aws/accounts', { ...account('b-prod', id), description: 'b' });
    expect(theirs.status).toBe(201);
    expect(theirs.body.id).toBe(id);
    // Within one tenant the id is still taken.
    expect((await a.api.post('/v1/aws/accounts', account('prod-2', id))).status).toBe(409);

    expect((await a.api.get(`/v1/aws/accounts/${id}`)).body).toMatchObject({ id, name: 'prod', description: '' });
    expect((await b.api.get(`/v1/aws/accounts/${id}`)).body).toMatchObject({ id, name: 'b-prod', description: 'b' });
    expect((await b.api.patch(`/v1/aws/accounts/${id}`, { description: 'b again' })).status).toBe(200);
    expect((await a.api.get(`/v1/aws/accounts/${id}`)).body.description).toBe('');
    expect((await b.api.delete(`/v1/aws/accounts/${id}`)).status).toBe(204);
    expect((await a.api.get(`/v1/aws/accounts/${id}`)).status).toBe(200);
    expect((await a.api.get('/v1/aws/accounts')).body.items.map((x: { name: string }) => x.name)).toEqual(['prod']);
  });
});

describe('retention: ended tasks past ATTACHE_TASK_RETENTION_DAYS are deleted', () => {
  let cp: ControlPlaneHandle;
  beforeAll(async () => {
    cp = await startControlPlane({ ATTACHE_TASK_RETENTION_DAYS: '30', ATTACHE_TASK_RETENTION_INTERVAL_SECONDS: '1' });
  });
  afterAll(async () => {
    await cp?.stop();
  });

  it('deletes what ended more than 30 days ago, in batches, and keeps recent and open tasks', async () => {
    const tenant = await createTenant(cp, 'retention');
    // Tasks that end now, through the API (no delegate: they fail at once with NO_ELIGIBLE_DELEGATE).
    const recent: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: `recent-${i}` }, selectors: ['nobody'] });
      expect(res.body.state).toBe('failed');
      recent.push(res.body.id);
    }
    // History written as if it had run long ago: 1,200 tasks that ended 31 to 40 days back, and one
    // queued that long ago which has not ended. Written into the running control plane's database.
    const store = SqliteStore.open({ path: join(cp.dataDir, 'attache.db') });
    const day = 86_400_000;
    const old: string[] = [];
    try {
      for (let i = 0; i < 1_200; i++) {
        const at = new Date(Date.now() - (31 + (i % 10)) * day);
        const id = `tsk_old${String(i).padStart(22, '0')}`;
        old.push(id);
        await store.insertTask({
          id, tenantId: tenant.id, type: 'echo', payload: { message: 'old' }, selectors: [], priority: 0, state: 'succeeded', attempt: 1,
          maxAttempts: 3, delegateId: null, queueTimeoutSeconds: 60, runTimeoutSeconds: 60, result: { message: 'old' }, error: null,
          accountId: null, requestedBy: null, createdAt: at, queuedAt: at, assignedAt: at, startedAt: at, endedAt: at, leaseExpiresAt: null,
        });
      }
      const longQueued = new Date(Date.now() - 40 * day);
      await store.insertTask({
        id: 'tsk_openold0000000000000000000', tenantId: tenant.id, type: 'echo', payload: { message: 'open' }, selectors: ['nobody'], priority: 0,
        state: 'queued', attempt: 1, maxAttempts: 3, delegateId: null, queueTimeoutSeconds: 86_400, runTimeoutSeconds: 60, result: null,
        error: null, accountId: null, requestedBy: null, createdAt: longQueued, queuedAt: longQueued, assignedAt: null, startedAt: null, endedAt: null, leaseExpiresAt: null,
      });

      await eventually(
        async () => ((await store.listTasks(tenant.id, { limit: 10_000 })).length === recent.length + 1 ? true : undefined),
        20_000,
        'retention to delete the old tasks',
      );
    } finally {
      await store.close();
    }
    for (const id of old.slice(0, 5)) expect((await tenant.api.get(`/v1/tasks/${id}`)).status).toBe(404);
    for (const id of recent) expect((await tenant.api.get(`/v1/tasks/${id}`)).status).toBe(200);
    expect((await tenant.api.get('/v1/tasks/tsk_openold0000000000000000000')).status).toBe(200);
    const log = cp.proc.lines.filter((l) => l.includes('deleted ended tasks past retention')).map((l) => JSON.parse(l) as { deleted: number });
    expect(log.reduce((n, l) => n + l.deleted, 0)).toBe(1_200);
  });
});
