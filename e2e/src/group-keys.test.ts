import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/canary.js';
import { createTenant, createToken, eventually, spawnDelegate, startControlPlane, waitForDelegates, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { jsonLines, type Proc } from './support/process.js';
import { ScriptedDelegate } from './support/scripted-delegate.js';

interface KeyFile {
  keyId: string;
  keyFile: string;
  algorithm: string;
  publicKey: string;
}

/**
 * Group keys for sealed values are published only for delegates that prove they hold them, and a
 * stolen token cannot slip its own key in as a group's current key: real delegates with key files
 * from `attache-delegate keygen`, and a scripted one that announces a key it does not hold.
 */
describe('group keys: proof of possession and trust', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let token: string;
  let dir: string;
  const procs: Proc[] = [];
  const keygen = async (name: string): Promise<KeyFile> => JSON.parse((await runCli(['keygen', '--out', join(dir, `${name}.pem`)])).stdout) as KeyFile;
  const publicKey = (name: string) => tenant.api.get(`/v1/delegate-groups/${name}/public-key`);
  const delegate = (name: string, keyFiles: KeyFile[]) => {
    const p = spawnDelegate({ url: cp.grpcUrl, token, name, env: { ATTACHE_KEY_FILE: keyFiles.map((k) => k.keyFile).join(',') } });
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-group-keys-'));
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'group-keys');
    token = (await createToken(tenant)).token;
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop(2_000)));
    await cp?.stop();
  });

  it('a delegate proves its key before it is listed: the key is published, trusted and current, and tags it', async () => {
    const k1 = await keygen('east-1');
    delegate('east', [k1]);
    const [listed] = await waitForDelegates(tenant, 'east');
    // Registered means proven: the key tag and the published key are there as soon as it is listed.
    expect(listed.tags).toContain(`key:${k1.keyId}`);
    const res = await publicKey('east');
    expect(res.status).toBe(200);
    expect(res.body.current).toMatchObject({ keyId: k1.keyId, publicKey: k1.publicKey, trusted: true, current: true });
  });

  it('a connection that announces a key it does not hold is refused with KEY_PROOF_FAILED, and nothing is published', async () => {
    const victim = await keygen('west-1');
    const d = new ScriptedDelegate(cp.grpcUrl, token);
    try {
      d.hello('west', { publicKeys: [{ keyId: victim.keyId, algorithm: victim.algorithm, publicKey: Buffer.from(victim.publicKey, 'base64url') }] });
      const challenge = await d.next((f) => f.frame.case === 'keyChallenge');
      expect(challenge.frame.case === 'keyChallenge' && challenge.frame.value.ephemeralPublicKey).toHaveLength(32);
      // Only the public key is known: whatever it sends cannot be the HMAC over the shared secret.
      d.send({ case: 'keyProof', value: { keys: [{ keyId: victim.keyId, mac: new Uint8Array(32).fill(7) }] } });
      const bye = await d.next((f) => f.frame.case === 'goodbye');
      expect(bye.frame.case === 'goodbye' && bye.frame.value).toMatchObject({ code: 'KEY_PROOF_FAILED' });
      expect(bye.frame.case === 'goodbye' && bye.frame.value.reason).toMatch(new RegExp(`does not hold the private key of ${victim.keyId}`));
      expect(d.received.some((f) => f.frame.case === 'welcome')).toBe(false);
    } finally {
      d.close();
    }
    expect((await publicKey('west')).status).toBe(404);
    const listing = (await tenant.api.get('/v1/delegates')).body.items as Array<{ name: string }>;
    expect(listing.some((x) => x.name === 'west')).toBe(false);

    // A Hello with keys followed by anything but KeyProof is refused the same way.
    const other = new ScriptedDelegate(cp.grpcUrl, token);
    try {
      other.hello('west', { publicKeys: [{ keyId: victim.keyId, algorithm: victim.algorithm, publicKey: Buffer.from(victim.publicKey, 'base64url') }] });
      await other.next((f) => f.frame.case === 'keyChallenge');
      other.send({ case: 'heartbeat', value: { inFlight: 0 } });
      const bye = await other.next((f) => f.frame.case === 'goodbye');
      expect(bye.frame.case === 'goodbye' && bye.frame.value.reason).toMatch(/must send KeyProof/);
    } finally {
      other.close();
    }
  });

  it('rotation: a new key announced with the trusted one becomes current; a lone new key under the group name waits for an admin', async () => {
    const old = await keygen('north-old');
    const first = delegate('north', [old]);
    await waitForDelegates(tenant, 'north');
    expect((await publicKey('north')).body.current.keyId).toBe(old.keyId);

    // Rotation: new key first, old key still held.
    const next = await keygen('north-new');
    first.kill('SIGTERM');
    await first.exited;
    delegate('north', [next, old]);
    await eventually(async () => ((await publicKey('north')).body.current?.keyId === next.keyId ? true : undefined), 15_000, 'the rotated key to be current');
    expect((await publicKey('north')).body.keys.map((k: any) => [k.keyId, k.trusted])).toEqual([
      [next.keyId, true],
      [old.keyId, true],
    ]);

    // A holder of the tenant's token starts a "north" with a key of its own: it proves possession
    // of that key (it has it), but the key arrives with no trusted key of the group.
    const impostorKey = await keygen('north-impostor');
    const impostor = delegate('north', [impostorKey]);
    await waitForDelegates(tenant, 'north', 2);
    await eventually(
      async () => (jsonLines(cp.proc).some((l) => l['msg'] === 'delegate announced group keys without any trusted key of its group') ? true : undefined),
      5_000,
      'the untrusted key to be logged',
    );
    const res = (await publicKey('north')).body;
    expect(res.current.keyId).toBe(next.keyId);
    expect(res.keys.find((k: any) => k.keyId === impostorKey.keyId)).toMatchObject({ trusted: false, current: false });

    // Sealing clients use `current`: still the group's own key. An admin who recognises the key
    // (it is theirs after all) trusts it, and as the most recently announced it becomes current.
    const trusted = await tenant.api.post(`/v1/delegate-groups/north/keys/${impostorKey.keyId}/trust`, {});
    expect(trusted.status).toBe(200);
    expect(trusted.body).toMatchObject({ keyId: impostorKey.keyId, trusted: true, current: true });
    expect((await tenant.api.post('/v1/delegate-groups/north/keys/0000000000000000/trust', {})).status).toBe(404);
    expect((await tenant.api.post('/v1/delegate-groups/north/keys/not-a-key/trust', {})).status).toBe(400);

    // Second thoughts: withdrawing trust takes it off `current` at once, back to the group's own key.
    const distrusted = await tenant.api.post(`/v1/delegate-groups/north/keys/${impostorKey.keyId}/distrust`, {});
    expect(distrusted.status).toBe(200);
    expect(distrusted.body).toMatchObject({ keyId: impostorKey.keyId, trusted: false, current: false });
    expect((await publicKey('north')).body.current.keyId).toBe(next.keyId);
    expect((await tenant.api.post('/v1/delegate-groups/north/keys/0000000000000000/distrust', {})).status).toBe(404);

    // Each trust change is in the audit trail, refused ones too: who, which key of which group, the outcome.
    const trail = await tenant.api.get('/v1/audit?target=north');
    expect(trail.status, trail.text).toBe(200);
    const changes = (trail.body.items as any[]).filter((e) => e.action.startsWith('group_key.'));
    expect(changes.map((e) => [e.action, e.target.id, e.outcome])).toEqual([
      ['group_key.distrust', '0000000000000000', 'NOT_FOUND'],
      ['group_key.distrust', impostorKey.keyId, 'success'],
      ['group_key.trust', 'not-a-key', 'VALIDATION_FAILED'],
      ['group_key.trust', '0000000000000000', 'NOT_FOUND'],
      ['group_key.trust', impostorKey.keyId, 'success'],
    ]);
    for (const e of changes) expect(e).toMatchObject({ actor: { type: 'apiKey' }, role: 'admin', target: { type: 'group_key', name: 'north' } });
    impostor.kill('SIGTERM');
    await impostor.exited;
  });

  it('another tenant sees none of the group’s keys and cannot trust them', async () => {
    const other = await createTenant(cp, 'group-keys-other');
    expect((await other.api.get('/v1/delegate-groups/east/public-key')).status).toBe(404);
    const listed = (await publicKey('east')).body.current.keyId as string;
    expect((await other.api.post(`/v1/delegate-groups/east/keys/${listed}/trust`, {})).status).toBe(404);
  });
});
