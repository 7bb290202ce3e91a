import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTenant,
  createToken,
  spawnDelegate,
  startControlPlane,
  startDelegate,
  waitForDelegates,
  type ControlPlaneHandle,
  type TenantHandle,
} from './support/cluster.js';
import type { Proc } from './support/process.js';

/**
 * "Connect Private Cloud Gateway": delegate groups as gateways. Two groups carry the same tags;
 * an account that names one runs its tasks only there. The tasks fail on the delegate (the secret
 * reference resolves to nothing), which is enough: where they ran is the point, and no AWS is needed.
 */
describe('gateways: delegate groups that pin an account’s tasks', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  const procs: Proc[] = [];
  let westIds: string[];
  let eastIds: string[];

  beforeAll(async () => {
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'gateways-e2e');
    const { token } = await createToken(tenant, 'gateways');
    // The references are allowed but never set, so every validation fails quickly on the delegate.
    const opts = (name: string) => ({ url: cp.grpcUrl, token, name, tags: ['aws'], maxConcurrency: 2, env: { ATTACHE_ALLOW_REFS: 'env:GW_E2E_*' } });
    procs.push(await startDelegate(tenant, opts('gw-east')));
    procs.push(await startDelegate(tenant, opts('gw-west')));
    procs.push(spawnDelegate(opts('gw-west')));
    westIds = (await waitForDelegates(tenant, 'gw-west', 2)).map((d) => d.id);
    eastIds = (await waitForDelegates(tenant, 'gw-east', 1)).map((d) => d.id);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await cp?.stop();
  });

  const unresolvable = { type: 'static', accessKeyId: 'env:GW_E2E_UNSET_ACCESS_KEY_ID', secretAccessKey: 'env:GW_E2E_UNSET_SECRET' };
  const validate = async (id: string) => {
    const res = await tenant.api.post(`/v1/aws/accounts/${id}/validate?waitSeconds=30`);
    expect(res.status, res.text).toBe(200);
    return res.body.task;
  };

  it('GET /v1/gateways lists each group with its connected replicas', async () => {
    const res = await tenant.api.get('/v1/gateways');
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((g: any) => [g.name, g.connected])).toEqual([
      ['gw-east', 1],
      ['gw-west', 2],
    ]);
    const west = res.body.items[1];
    expect(west.replicas.map((r: any) => r.id).sort()).toEqual([...westIds].sort());
    expect(new Set(west.replicas.map((r: any) => r.instanceId)).size).toBe(2);
    expect(west.replicas[0]).toMatchObject({ status: 'connected', tags: expect.arrayContaining(['aws', 'gw-west']), taskTypes: expect.arrayContaining(['aws.validate', 'aws.listPolicies']) });
    expect(west.identities).toEqual([]);
  });

  it("an account with a gateway runs its tasks only on that group's delegates", async () => {
    const created = await tenant.api.post('/v1/aws/accounts', { name: 'pinned', partition: 'aws', auth: unresolvable, delegateSelectors: ['aws'], gateway: 'gw-west' });
    expect(created.status, created.text).toBe(201);
    expect(created.body.gateway).toBe('gw-west');
    const id = created.body.id;

    for (let i = 0; i < 6; i++) {
      const task = await validate(id);
      expect(task.selectors).toEqual(['aws', 'gw-west']);
      expect(task.error.code).toBe('SECRET_UNRESOLVED');
      expect(westIds).toContain(task.delegateId);
    }

    // Moving the account to the other gateway moves its work; unpinning lets any aws delegate take it.
    const moved = await tenant.api.patch(`/v1/aws/accounts/${id}`, { gateway: 'gw-east' });
    expect(moved.body.gateway).toBe('gw-east');
    const onEast = await validate(id);
    expect(eastIds).toContain(onEast.delegateId);
    const unpinned = await tenant.api.patch(`/v1/aws/accounts/${id}`, { gateway: null });
    expect(unpinned.body.gateway).toBeNull();
    expect((await validate(id)).selectors).toEqual(['aws']);
  });

  it('a gateway without connected delegates is NO_ELIGIBLE_DELEGATE naming the missing group tag; a bad name is a 400', async () => {
    const created = await tenant.api.post('/v1/aws/accounts', { name: 'nowhere', partition: 'aws', auth: unresolvable, gateway: 'gw-north' });
    expect(created.status, created.text).toBe(201);
    const task = await validate(created.body.id);
    expect(task.error.code).toBe('NO_ELIGIBLE_DELEGATE');
    expect(task.error.details.delegates.map((d: any) => d.reasons.join(' '))).toEqual(expect.arrayContaining([expect.stringContaining('missing tags: gw-north')]));

    const bad = await tenant.api.post('/v1/aws/accounts', { name: 'bad-gateway', partition: 'aws', auth: unresolvable, gateway: 'Not A Group' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/gateway/);
  });

  it('role setup for a gateway covers exactly that group', async () => {
    const res = await tenant.api.get('/v1/aws/role-setup?gateway=gw-west');
    expect(res.status, res.text).toBe(200);
    expect(res.body.selectors).toEqual(['gw-west']);
    expect(res.body.delegateGroups).toEqual([{ group: 'gw-west', identityArn: null, reportedAt: null }]);
    expect(res.body.principalIsPlaceholder).toBe(true);
  });

  it('a stopped replica leaves the group listing', async () => {
    const last = procs.pop()!;
    await last.stop();
    const deadline = Date.now() + 15_000;
    let west: any;
    do {
      west = (await tenant.api.get('/v1/gateways')).body.items.find((g: any) => g.name === 'gw-west');
      if (west?.replicas.length === 1) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    expect(west.replicas).toHaveLength(1);
    expect(west.connected).toBe(1);
  });
});
