import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from '../support/cluster.js';
import type { Proc } from '../support/process.js';

/**
 * Tenant A tries everything it could use to reach tenant B: B's task, account, token and delegate
 * ids, B's delegate tags in selectors, B's keys and tokens in the wrong places. Every attempt must
 * fail, and listings must show none of B's objects.
 */
let cp: ControlPlaneHandle;
let a: TenantHandle;
let b: TenantHandle;
const procs: Proc[] = [];
beforeAll(async () => {
  cp = await startControlPlane();
  a = await createTenant(cp, 'tenant-a');
  b = await createTenant(cp, 'tenant-b');
  const ta = await createToken(a, 'a');
  procs.push(await startDelegate(a, { url: cp.grpcUrl, token: ta.token, name: 'a-gw', tags: ['a-only'] }));
});
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await cp?.stop();
});

it('every cross-tenant attempt fails', async () => {
  const tb = await createToken(b, 'b');
  procs.push(await startDelegate(b, { url: cp.grpcUrl, token: tb.token, name: 'b-gw', tags: ['b-secret', 'aws'] }));
  const bTask = (await b.api.post('/v1/tasks', { type: 'echo', payload: { message: 'b', delayMs: 5_000 }, selectors: ['b-secret'] })).body;
  const bAccount = (
    await b.api.post('/v1/aws/accounts', { name: 'b-prod', partition: 'aws', delegateSelectors: ['aws'], auth: { type: 'delegate' } })
  ).body;
  expect(bTask.id).toBeTruthy();
  expect(bAccount.id).toBeTruthy();
  const bDelegate = (await b.api.get('/v1/delegates')).body.items[0];

  const attempts: Array<[string, () => Promise<boolean>]> = [
    ['read B task', async () => (await a.api.get(`/v1/tasks/${bTask.id}`)).status === 404],
    ['wait on B task', async () => (await a.api.get(`/v1/tasks/${bTask.id}?waitSeconds=1`)).status === 404],
    ['cancel B task', async () => (await a.api.post(`/v1/tasks/${bTask.id}/cancel`)).status === 404],
    ['read B account', async () => (await a.api.get(`/v1/aws/accounts/${bAccount.id}`)).status === 404],
    ['patch B account', async () => (await a.api.patch(`/v1/aws/accounts/${bAccount.id}`, { name: 'stolen' })).status === 404],
    ['delete B account', async () => (await a.api.delete(`/v1/aws/accounts/${bAccount.id}`)).status === 404],
    ['validate B account', async () => (await a.api.post(`/v1/aws/accounts/${bAccount.id}/validate?waitSeconds=1`)).status === 404],
    ['revoke B token', async () => (await a.api.post(`/v1/delegate-tokens/${tb.id}/revoke`)).status === 404],
    ['list tasks', async () => !(await a.api.get('/v1/tasks')).text.includes(bTask.id)],
    ['list accounts', async () => !(await a.api.get('/v1/aws/accounts')).text.includes(bAccount.id)],
    ['list delegates', async () => !(await a.api.get('/v1/delegates')).text.includes(bDelegate.id)],
    ['list tokens', async () => !(await a.api.get('/v1/delegate-tokens')).text.includes(tb.id)],
    ['queue stats', async () => !(await a.api.get('/v1/queue')).text.includes('b-secret')],
    ...(['b-secret', 'b-gw', 'aws'] as const).map((tag): [string, () => Promise<boolean>] => [
      `route to B delegate via selector ${tag}`,
      async () => {
        const res = await a.api.post('/v1/tasks', { type: 'echo', payload: { message: 'x' }, selectors: [tag] });
        const task = res.status === 201 ? (await a.api.get(`/v1/tasks/${res.body.id}?waitSeconds=5`)).body : res.body;
        // Refused outright, or failed without ever reaching a delegate: never run by B's.
        return res.status >= 400 || (task.state === 'failed' && task.error?.code === 'NO_ELIGIBLE_DELEGATE' && !JSON.stringify(task).includes(bDelegate.id));
      },
    ]),
    ['B delegate token as API key', async () => (await a.api.withKey(tb.token).get('/v1/tasks')).status === 401],
    ['B API key reading A tasks', async () => !(await b.api.get('/v1/tasks')).text.includes('a-only')],
    ['tenant key creating tenants', async () => (await a.api.post('/v1/tenants', { name: 'evil' })).status === 403],
  ];

  const failed: string[] = [];
  for (const [name, attempt] of attempts) if (!(await attempt())) failed.push(name);
  // B's objects are untouched by all of the above.
  const stillB = await b.api.get(`/v1/aws/accounts/${bAccount.id}`);
  process.stdout.write(`[chaos] cross-tenant attempts tried ${attempts.length}, refused ${attempts.length - failed.length}\n`);
  expect(failed).toEqual([]);
  expect(stillB.body.name).toBe('b-prod');
  expect((await b.api.get('/v1/delegate-tokens')).body.items.find((t: { id: string }) => t.id === tb.id)?.revokedAt ?? null).toBeNull();
});
