import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  createTenant,
  createToken,
  eventually,
  spawnDelegate,
  startControlPlane,
  startDelegate,
  waitForDelegates,
  type ControlPlaneHandle,
  type TenantHandle,
} from './support/cluster.js';
import { jsonLines, type Proc } from './support/process.js';

/** Faults with real processes and real signals: SIGKILL, SIGSTOP/SIGCONT, SIGTERM, revocation. */
describe('faults', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let token: string;
  let procs: Proc[];

  beforeEach(async () => {
    procs = [];
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'faults');
    token = (await createToken(tenant)).token;
  });

  afterEach(async () => {
    for (const p of procs) p.kill('SIGCONT');
    await Promise.all(procs.map((p) => p.stop(2_000)));
    await cp.stop();
  });

  const delegate = async (name: string, tags: string[] = ['pool']) => {
    const p = await startDelegate(tenant, { url: cp.grpcUrl, token, name, tags });
    procs.push(p);
    return p;
  };
  const task = (id: string) => tenant.api.get(`/v1/tasks/${id}`).then((r) => r.body);
  const waitRunning = (id: string) => eventually(async () => ((await task(id)).state === 'running' ? true : undefined), 10_000, 'task running');

  it('a delegate killed with SIGKILL mid-task: the task finishes on another delegate as attempt 2', async () => {
    const first = await delegate('first');
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'survive', delayMs: 3000 }, selectors: ['pool'] });
    await waitRunning(created.body.id);
    const firstId = (await task(created.body.id)).delegateId;
    // Killed before a second delegate starts: a slow start on a busy machine must not let attempt 1 finish first.
    first.kill('SIGKILL');
    await delegate('second');
    const done = await tenant.api.get(`/v1/tasks/${created.body.id}?waitSeconds=30`);
    expect(done.body.state).toBe('succeeded');
    expect(done.body.attempt).toBe(2);
    expect(done.body.result).toEqual({ message: 'survive' });
    expect(done.body.delegateId).not.toBe(firstId);
    const listing = (await tenant.api.get('/v1/delegates')).body.items;
    expect(listing.find((d: any) => d.id === firstId).status).toBe('disconnected');
  });

  it('a frozen delegate loses its attempt by missed heartbeats, and its late result is ignored', async () => {
    const frozen = await delegate('frozen');
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'fenced', delayMs: 5000 }, selectors: ['pool'] });
    await waitRunning(created.body.id);
    const frozenId = (await task(created.body.id)).delegateId;
    frozen.kill('SIGSTOP');
    await delegate('healthy');
    // Missed heartbeats: attempt 1 is given up and attempt 2 runs on the healthy delegate.
    await eventually(async () => {
      const t = await task(created.body.id);
      return t.attempt === 2 && t.state === 'running' ? true : undefined;
    }, 15_000, 'attempt 2 running');
    // Thaw while attempt 2 runs: the old process reconnects still holding attempt 1 and reports it.
    frozen.kill('SIGCONT');
    await waitForDelegates(tenant, 'frozen');
    await eventually(
      async () =>
        jsonLines(cp.proc).some(
          (l) => l['taskId'] === created.body.id && l['attempt'] === 1 && /ignored a result|dropped a result/.test(String(l['msg'])),
        ) || undefined,
      15_000,
      'the late attempt-1 result to be dropped',
    );
    const done = await tenant.api.get(`/v1/tasks/${created.body.id}?waitSeconds=30`);
    expect(done.body).toMatchObject({ state: 'succeeded', attempt: 2, result: { message: 'fenced' } });
    expect(done.body.delegateId).not.toBe(frozenId);
  });

  it('SIGTERM drains: no new work, the running task finishes, the process exits 0', async () => {
    const draining = await delegate('drainer');
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'finish me', delayMs: 1500 }, selectors: ['drainer'] });
    await waitRunning(created.body.id);
    draining.kill('SIGTERM');
    await eventually(async () => {
      const d = (await tenant.api.get('/v1/delegates')).body.items.find((x: any) => x.name === 'drainer');
      return d?.status === 'draining' || d?.status === 'disconnected' ? true : undefined;
    }, 5_000, 'draining status');
    const refused = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'no' }, selectors: ['drainer'] });
    expect(refused.body.state).toBe('failed');
    expect(refused.body.error.code).toBe('NO_ELIGIBLE_DELEGATE');
    const done = await tenant.api.get(`/v1/tasks/${created.body.id}?waitSeconds=20`);
    expect(done.body).toMatchObject({ state: 'succeeded', attempt: 1, result: { message: 'finish me' } });
    const exit = await draining.exited;
    expect(exit.code).toBe(0);
  });

  it('revoking a token cuts its live delegate off at once with a reason, and it cannot reconnect', async () => {
    const second = await createToken(tenant, 'to-revoke');
    const victim = spawnDelegate({ url: cp.grpcUrl, token: second.token, name: 'victim', tags: ['pool'] });
    procs.push(victim);
    await waitForDelegates(tenant, 'victim');
    const revoked = await tenant.api.post(`/v1/delegate-tokens/${second.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.body.status).toBe('revoked');
    const exit = await Promise.race([victim.exited, new Promise<null>((r) => setTimeout(() => r(null), 5_000))]);
    expect(exit).not.toBeNull();
    expect(exit!.code).toBe(3);
    expect(victim.lines.join('\n')).toMatch(/revoked/i);
    const listing = (await tenant.api.get('/v1/delegates')).body.items;
    expect(listing.find((d: any) => d.name === 'victim').status).toBe('disconnected');
    const tokens = (await tenant.api.get('/v1/delegate-tokens')).body.items;
    expect(tokens.find((t: any) => t.id === second.id).status).toBe('revoked');
    // The same token again: refused at connect.
    const retry = spawnDelegate({ url: cp.grpcUrl, token: second.token, name: 'victim2', tags: ['pool'] });
    procs.push(retry);
    expect((await retry.exited).code).toBe(3);
  });

  it('a task survives a control-plane restart: queued work persists and delegates reconnect', async () => {
    await delegate('steady');
    const queued = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'persist', delayMs: 200 }, selectors: ['pool'] });
    expect(queued.status).toBe(201);
    await cp.restart('SIGKILL');
    await waitForDelegates(tenant, 'steady', 1, 30_000);
    const after = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'after restart' }, selectors: ['pool'] });
    const done = await tenant.api.get(`/v1/tasks/${after.body.id}?waitSeconds=20`);
    expect(done.body.state).toBe('succeeded');
    const first = await tenant.api.get(`/v1/tasks/${queued.body.id}?waitSeconds=20`);
    expect(first.body.state).toBe('succeeded');
    expect(first.body.result).toEqual({ message: 'persist' });
  });
});
