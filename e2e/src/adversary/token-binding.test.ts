import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, spawnDelegate, startControlPlane, waitForDelegates, type ControlPlaneHandle, type TenantHandle } from '../support/cluster.js';
import { jsonLines, type Proc } from '../support/process.js';

/**
 * Bound delegate tokens: a token made for a gateway registers only as that gateway, with tags from
 * its set, and no other token of the tenant can take the gateway's name (and with it the gateway's
 * tasks and the first-use trust of its keys). Real control plane and delegate processes.
 */
describe('delegate tokens bound to a group and tags', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let stateDir: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'token-binding');
    stateDir = await mkdtemp(join(tmpdir(), 'attache-binding-'));
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop(2_000)));
  });
  afterAll(async () => {
    await cp?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  const mint = async (body: Record<string, unknown>) => {
    const res = await tenant.api.post('/v1/delegate-tokens', body);
    expect(res.status, res.text).toBe(201);
    return res.body as { id: string; token: string; group: string | null; tags: string[] | null };
  };
  const run = (token: string, name: string, tags: string[] = [], env: Record<string, string> = {}) => {
    const p = spawnDelegate({ url: cp.grpcUrl, token, name, tags, env });
    procs.push(p);
    return p;
  };
  /** A delegate the control plane refuses for its configuration: it exits 2 at once, without retrying. */
  const refused = async (p: Proc) => {
    const exit = await Promise.race([p.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
    expect(exit?.code, p.lines.slice(-5).join('\n')).toBe(2);
    expect(p.lines.join('\n')).not.toMatch(/disconnected; reconnecting/);
    return p.lines.join('\n');
  };
  const refusalsOf = (name: string) => jsonLines(cp.proc).filter((l) => l['msg'] === 'delegate refused at registration' && l['name'] === name);
  const connected = async (name: string) =>
    ((await tenant.api.get('/v1/delegates')).body.items as Array<{ name: string; status: string }>).filter((d) => d.name === name && d.status !== 'disconnected');

  it('POST /v1/delegate-tokens takes group and tags by the API grammar; GET shows them, null when unbound', async () => {
    const bound = await mint({ name: 'vpc-east gateway', group: 'vpc-east', tags: ['prod', 'aws', 'team/a'] });
    expect(bound).toMatchObject({ group: 'vpc-east', tags: ['aws', 'prod', 'team/a'], status: 'active' });
    const plain = await mint({ name: 'anything' });
    expect(plain).toMatchObject({ group: null, tags: null });

    const listed = (await tenant.api.get('/v1/delegate-tokens')).body.items as Array<Record<string, unknown>>;
    expect(listed.find((t) => t['id'] === bound.id)).toEqual({
      id: bound.id,
      name: 'vpc-east gateway',
      createdAt: expect.any(String),
      revokedAt: null,
      status: 'active',
      group: 'vpc-east',
      tags: ['aws', 'prod', 'team/a'],
    });
    expect(listed.find((t) => t['id'] === plain.id)).toMatchObject({ group: null, tags: null });

    for (const [body, problem] of [
      [{ name: 'x', group: 'VPC_East' }, /group: a delegate group name is lowercase letters, digits and -/],
      [{ name: 'x', group: 'vpc\u202eeast' }, /group: a delegate group name is/],
      [{ name: 'x', group: 'a'.repeat(64) }, /group:/],
      [{ name: 'x', tags: ['Prod'] }, /tags\.0: a tag is lowercase letters, digits and \. _ : \/ -/],
      [{ name: 'x', tags: ['key:0123456789abcdef'] }, /tags\.0: key: tags come from the keys a delegate proves it holds/],
      [{ name: 'x', group: 'vpc-east', owner: 'me' }, /Unrecognized key/i],
    ] as const) {
      const res = await tenant.api.post('/v1/delegate-tokens', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.message).toMatch(problem);
    }
  });

  it('a bound token registers as its group with tags from its set; its name and proven key tags do not count', async () => {
    const { token } = await mint({ name: 'east', group: 'east-gw', tags: ['aws'] });
    // The name is declared as a tag too, and the delegate proves a generated key: neither is in the set.
    run(token, 'east-gw', ['aws', 'east-gw'], { ATTACHE_STATE_DIR: join(stateDir, 'east') });
    const [listed] = await waitForDelegates(tenant, 'east-gw');
    expect(listed.tags).toEqual(expect.arrayContaining(['aws', 'east-gw', expect.stringMatching(/^key:[0-9a-f]{16}$/)]));
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'pinned' }, selectors: ['east-gw'] });
    expect((await tenant.api.get(`/v1/tasks/${created.body.id}?waitSeconds=20`)).body).toMatchObject({ state: 'succeeded', delegateId: listed.id });
  });

  it('a bound token cannot register as another group: GROUP_NOT_ALLOWED, the delegate exits 2 without retrying', async () => {
    const bound = await mint({ name: 'west', group: 'west-gw' });
    const out = await refused(run(bound.token, 'west-elsewhere'));
    expect(out).toContain(
      `(GROUP_NOT_ALLOWED): Delegate token ${bound.id} ("west") is bound to delegate group "west-gw" and cannot register as "west-elsewhere"; set ATTACHE_DELEGATE_NAME=west-gw`,
    );
    expect(refusalsOf('west-elsewhere')).toHaveLength(1);
    expect(await connected('west-elsewhere')).toEqual([]);
  });

  it('tags outside the token’s set: TAGS_NOT_ALLOWED naming the token, group and offending tags; exit 2', async () => {
    const bound = await mint({ name: 'north', group: 'north-gw', tags: ['aws', 'prod'] });
    const out = await refused(run(bound.token, 'north-gw', ['aws', 'gpu', 'pci']));
    expect(out).toContain(`(TAGS_NOT_ALLOWED): Delegate token ${bound.id} ("north") allows delegate group "north-gw" only the tags aws, prod, not gpu, pci;`);
    expect(refusalsOf('north-gw')).toHaveLength(1);
    expect(await connected('north-gw')).toEqual([]);
  });

  it('an unbound token cannot take a name a live bound token owns; the name is free again once every such token is revoked', async () => {
    const bound = await mint({ name: 'south', group: 'south-gw' });
    const plain = await mint({ name: 'any group' });
    const out = await refused(run(plain.token, 'south-gw'));
    expect(out).toContain(`(GROUP_NOT_ALLOWED): Delegate token ${plain.id} ("any group") is not bound to a group, and delegate group "south-gw" belongs to tokens bound to it;`);
    expect(await connected('south-gw')).toEqual([]);

    // The same token takes any name nobody has bound.
    run(plain.token, 'lab');
    await waitForDelegates(tenant, 'lab');

    // The owner's token is gone: nothing protects the name any more.
    expect((await tenant.api.post(`/v1/delegate-tokens/${bound.id}/revoke`)).status).toBe(200);
    run(plain.token, 'south-gw');
    await waitForDelegates(tenant, 'south-gw');
  });
});
