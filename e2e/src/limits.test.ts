import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, eventually, spawnDelegate, startControlPlane, waitForDelegates, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { jsonLines, type Proc } from './support/process.js';

/** Limits one tenant cannot push past: connected delegates per tenant, across its tokens. */
describe('limits: delegates per tenant', () => {
  let cp: ControlPlaneHandle;
  let a: TenantHandle;
  let b: TenantHandle;
  const procs: Proc[] = [];
  const start = async (tenant: TenantHandle, name: string) => {
    const p = spawnDelegate({ url: cp.grpcUrl, token: (await createToken(tenant, name)).token, name });
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    cp = await startControlPlane({ ATTACHE_MAX_DELEGATES_PER_TENANT: '2' });
    a = await createTenant(cp, 'limit-a');
    b = await createTenant(cp, 'limit-b');
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop(2_000)));
    await cp?.stop();
  });

  it('refuses a delegate past the limit with RESOURCE_EXHAUSTED, serves other tenants, and lets it in once a slot frees', async () => {
    const first = await start(a, 'a-1');
    await start(a, 'a-2');
    await waitForDelegates(a, 'a-1');
    await waitForDelegates(a, 'a-2');

    const third = await start(a, 'a-3');
    const refused = await eventually(
      async () => jsonLines(third).find((l) => l['msg'] === 'disconnected; reconnecting' && /RESOURCE_EXHAUSTED/.test(JSON.stringify(l))),
      15_000,
      'the third delegate to be refused',
    );
    expect(JSON.stringify(refused)).toMatch(/ATTACHE_MAX_DELEGATES_PER_TENANT=2/);
    await eventually(
      async () => (jsonLines(cp.proc).some((l) => l['msg'] === 'delegate refused: tenant at its delegate limit' && l['name'] === 'a-3') ? true : undefined),
      5_000,
      'the control plane to log the refusal',
    );
    const names = ((await a.api.get('/v1/delegates')).body.items as Array<{ name: string; status: string }>).filter((d) => d.status === 'connected').map((d) => d.name);
    expect(names.sort()).toEqual(['a-1', 'a-2']);

    // Another tenant is not affected by A's limit.
    await start(b, 'b-1');
    await waitForDelegates(b, 'b-1');

    // A slot frees: the refused delegate, still retrying, gets in.
    first.kill('SIGTERM');
    await first.exited;
    await waitForDelegates(a, 'a-3', 1, 30_000);
  });
});
