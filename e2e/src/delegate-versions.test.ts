import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELEGATE_RELEASE } from '@attache/proto';
import { runCli } from './support/cli.js';
import { createTenant, createToken, eventually, startControlPlane, startDelegate, waitForDelegates, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import type { Proc } from './support/process.js';
import { ScriptedDelegate } from './support/scripted-delegate.js';

// Scripted delegates send no heartbeats: a long timeout keeps them connected for the whole file.
const PATIENT = { ATTACHE_HEARTBEAT_TIMEOUT_MS: '120000' };
const OLD = '0.0.1';
const byName = async (tenant: TenantHandle) => {
  const res = await tenant.api.get('/v1/delegates?limit=500');
  expect(res.status, res.text).toBe(200);
  return new Map<string, any>(res.body.items.map((d: any) => [d.name, d]));
};
const gauge = async (cp: ControlPlaneHandle, version: string, outdated: boolean): Promise<number | undefined> => {
  const text = await (await fetch(`${cp.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`attache_delegates_connected_by_version{version="${version}",outdated="${outdated}"} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

/**
 * The control plane knows the current delegate release: a delegate reporting an older version (or
 * none it can read) is `outdated` in the API, the CLI and the by-version gauge; the real delegate
 * built from this tree is not.
 */
describe('delegate versions: outdated delegates are marked and counted', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let token: string;
  let real: Proc;
  const scripted: ScriptedDelegate[] = [];

  const scriptedDelegate = async (target: ControlPlaneHandle, bearer: string, name: string, version: string) => {
    const d = new ScriptedDelegate(target.grpcUrl, bearer);
    scripted.push(d);
    await d.register(name, { version });
    return d;
  };

  beforeAll(async () => {
    cp = await startControlPlane(PATIENT);
    tenant = await createTenant(cp, 'versions-e2e');
    token = (await createToken(tenant)).token;
    real = await startDelegate(tenant, { url: cp.grpcUrl, token, name: 'v-real' });
    await scriptedDelegate(cp, token, 'v-old', OLD);
    await scriptedDelegate(cp, token, 'v-junk', 'nightly build');
    await waitForDelegates(tenant, 'v-old');
  });

  afterAll(async () => {
    for (const d of scripted) d.close();
    await real?.stop();
    await cp?.stop();
  });

  it('GET /v1/delegates marks an older or unreadable version outdated and the current release not', async () => {
    const delegates = await byName(tenant);
    expect(delegates.get('v-real')).toMatchObject({ version: DELEGATE_RELEASE, outdated: false });
    expect(delegates.get('v-old')).toMatchObject({ version: OLD, outdated: true });
    expect(delegates.get('v-junk')).toMatchObject({ version: 'nightly build', outdated: true });
  });

  it('GET /v1/gateways shows the same flag on each replica', async () => {
    const res = await tenant.api.get('/v1/gateways');
    expect(res.status, res.text).toBe(200);
    const replica = (name: string) => res.body.items.find((g: any) => g.name === name).replicas[0];
    expect(replica('v-real').outdated).toBe(false);
    expect(replica('v-old').outdated).toBe(true);
  });

  it('/metrics counts connected delegates by version, folding the unreadable one into unknown', async () => {
    expect(await gauge(cp, DELEGATE_RELEASE, false)).toBe(1);
    expect(await gauge(cp, OLD, true)).toBe(1);
    expect(await gauge(cp, 'unknown', true)).toBe(1);
    const text = await (await fetch(`${cp.httpUrl}/metrics`)).text();
    expect(text).not.toContain('nightly build');
  });

  it('a delegate that goes away leaves the count', async () => {
    const leaving = await scriptedDelegate(cp, token, 'v-leaving', OLD);
    const counted = (n: number) => eventually(async () => ((await gauge(cp, OLD, true)) === n ? true : undefined), 15_000, `${n} delegates at ${OLD}`);
    await counted(2);
    leaving.close();
    await counted(1);
  });

  it('attache delegates list shows (outdated) where the API says so', async () => {
    const home = await mkdtemp(join(tmpdir(), 'attache-versions-cli-'));
    const run = await runCli(['delegates', 'list'], {
      env: { HOME: home, ATTACHE_CONFIG: join(home, 'none.json'), ATTACHE_API_URL: cp.httpUrl, ATTACHE_API_KEY: tenant.api.key },
    });
    expect(run.code, run.stderr).toBe(0);
    const line = (name: string) => run.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
    expect(line('v-old')).toContain(`${OLD} (outdated)`);
    expect(line('v-real')).toContain(DELEGATE_RELEASE);
    expect(line('v-real')).not.toContain('(outdated)');
  });

  it('an operator who pins an older release (ATTACHE_CURRENT_DELEGATE_VERSION) sees it as current', async () => {
    const pinned = await startControlPlane({ ...PATIENT, ATTACHE_CURRENT_DELEGATE_VERSION: OLD });
    try {
      const t = await createTenant(pinned, 'versions-pinned');
      await scriptedDelegate(pinned, (await createToken(t)).token, 'v-pinned', OLD);
      expect((await byName(t)).get('v-pinned')).toMatchObject({ version: OLD, outdated: false });
      expect(await gauge(pinned, OLD, false)).toBe(1);
    } finally {
      await pinned.stop();
    }
  });
});
