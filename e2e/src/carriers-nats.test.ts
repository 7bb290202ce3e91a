import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { connect, headers, PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';
import { createUser } from '@nats-io/nkeys';
import {
  ControlFrameSchema,
  DelegateFrameSchema,
  NATS_CREDENTIALS_PATH,
  NatsHeader,
} from '@attache/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatsOperatorSetup } from '../../control-plane/src/nats/account.js';
import { runCarrierConformance, type RawClient, type RawConnection } from './carriers.conformance.js';
import { createTenant, createToken, eventually, spawnDelegate, startControlPlane, waitForDelegates, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { jsonLines } from './support/process.js';
import { openNatsSession } from './support/frame-client.js';
import { startNats, type NatsHandle } from './support/nats.js';

/**
 * nats-server in operator mode, trusting one account whose signing key the control plane holds;
 * the control plane serves delegates over NATS. The env object is filled in before any control
 * plane starts (file-level beforeAll runs before the suites' own).
 */
const setup = await createNatsOperatorSetup();
let nats: NatsHandle;
const controlPlaneEnv: Record<string, string> = {};

beforeAll(async () => {
  nats = await startNats({ config: setup.serverConfig });
  Object.assign(controlPlaneEnv, {
    ATTACHE_NATS_URL: nats.url,
    ATTACHE_NATS_SIGNING_SEED: setup.signingSeed,
    ATTACHE_NATS_ACCOUNT: setup.accountPublicKey,
  });
});
afterAll(async () => {
  await nats?.stop();
});

const natsUrlFor = (cp: ControlPlaneHandle) => `${nats.url}?api=${encodeURIComponent(cp.httpUrl)}`;

/** What a delegate does before its first frame: credentials for a fresh user key, then NATS. */
const session = (apiUrl: string, token: string) => openNatsSession(nats.url, apiUrl, token);

/** Raw NATS session for the malformed-frame case: connect with the token, then send bytes as frames. */
const rawNats: RawClient = (url, token): RawConnection => {
  const api = new URL(url).searchParams.get('api')!;
  let resolveClosed!: (v: { goodbye?: { code: string; reason: string }; carrierReason: string }) => void;
  const closed = new Promise<{ goodbye?: { code: string; reason: string }; carrierReason: string }>((r) => (resolveClosed = r));
  const opened = session(api, token).then(async ({ nc, creds }) => {
    nc.subscribe(creds.subjects.down, {
      callback: (_err, msg) => {
        const status = msg.headers?.get(NatsHeader.status);
        if (status) return resolveClosed({ carrierReason: `${status}: ${msg.headers?.get(NatsHeader.message)}` });
        if (msg.headers?.has(NatsHeader.ping)) return;
        const frame = fromBinary(ControlFrameSchema, msg.data);
        if (frame.frame.case === 'goodbye') resolveClosed({ goodbye: { code: frame.frame.value.code, reason: frame.frame.value.reason }, carrierReason: 'goodbye' });
      },
    });
    await nc.request(creds.subjects.connect, token, { timeout: 5_000 });
    return { nc, creds };
  });
  const pending: Promise<unknown>[] = [];
  return {
    send: (bytes) => void pending.push(opened.then(({ nc, creds }) => nc.publish(creds.subjects.up, bytes))),
    closed,
    close: () => void opened.then(({ nc }) => nc.close()),
  };
};

runCarrierConformance('nats', natsUrlFor, { controlPlaneEnv, raw: rawNats });

describe('NATS carrier: tenant isolation is enforced by nats-server', () => {
  let cp: ControlPlaneHandle;
  let a: TenantHandle;
  let b: TenantHandle;
  let tokenA: string;
  let tokenB: string;
  const open: NatsConnection[] = [];

  beforeAll(async () => {
    cp = await startControlPlane(controlPlaneEnv);
    a = await createTenant(cp, 'tenant-a');
    b = await createTenant(cp, 'tenant-b');
    tokenA = (await createToken(a)).token;
    tokenB = (await createToken(b)).token;
  });
  afterAll(async () => {
    for (const nc of open) await nc.close();
    await cp?.stop();
  });

  const sessionOf = async (token: string) => {
    const s = await session(cp.httpUrl, token);
    open.push(s.nc);
    return s;
  };

  /** The server's verdict on a subscription: resolves with its error (or null when allowed). */
  const subscribeVerdict = async (nc: NatsConnection, subject: string): Promise<Error | null> => {
    const verdict = new Promise<Error | null>((resolve) => {
      nc.subscribe(subject, { callback: (err) => resolve(err) });
      // An allowed subscription produces no message; give the server time to object.
      void nc.flush().then(() => setTimeout(() => resolve(null), 300));
    });
    return verdict;
  };

  /** The server's verdict on a publish: permission violations arrive as async connection errors. */
  const publishVerdict = async (nc: NatsConnection, subject: string): Promise<Error | null> => {
    const errors = (async () => {
      for await (const s of nc.status()) if (s.type === 'error') return s.error;
      return null;
    })();
    nc.publish(subject, 'x');
    await nc.flush();
    return Promise.race([errors, new Promise<null>((r) => setTimeout(() => r(null), 500))]);
  };

  it('credentials carry only the tenant’s own session subjects', async () => {
    const { creds } = await sessionOf(tokenA);
    expect(creds.subjects.up).toMatch(new RegExp(`^attache\\.d\\.${a.id}\\.nss_[0-9a-z]+\\.up$`));
    const claims = JSON.parse(Buffer.from(creds.jwt.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims.nats.pub.allow.sort()).toEqual([creds.subjects.connect, creds.subjects.up].sort());
    expect(claims.nats.sub.allow.sort()).toEqual([creds.subjects.down, `${creds.subjects.inboxPrefix}.>`].sort());
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(900);
  });

  it('a tenant-A credential cannot subscribe to tenant B’s subjects, wildcards or the bus', async () => {
    const { nc, creds } = await sessionOf(tokenA);
    const { creds: credsB } = await sessionOf(tokenB);
    for (const subject of [credsB.subjects.down, credsB.subjects.up, `attache.d.${b.id}.>`, 'attache.>', '>', 'attache.bus.>', `attache.d.*.*.connect`]) {
      const err = await subscribeVerdict(nc, subject);
      expect(err, subject).toBeInstanceOf(PermissionViolationError);
      expect((err as PermissionViolationError).operation).toBe('subscription');
    }
    // Control: its own down subject is allowed.
    expect(await subscribeVerdict(nc, creds.subjects.down)).toBeNull();
  });

  it('a tenant-A credential cannot publish to tenant B’s subjects or the bus', async () => {
    const { nc } = await sessionOf(tokenA);
    const { nc: ncB, creds: credsB } = await sessionOf(tokenB);
    // Tenant B's delegate listens on its down subject: nothing from A may arrive there.
    const arrived: string[] = [];
    ncB.subscribe(credsB.subjects.down, { callback: (_e, m) => void arrived.push(m.subject) });
    await ncB.flush();
    for (const subject of [credsB.subjects.down, credsB.subjects.up, credsB.subjects.connect, 'attache.bus.token.revoked']) {
      const err = await publishVerdict(nc, subject);
      expect(err, subject).toBeInstanceOf(PermissionViolationError);
      expect((err as PermissionViolationError).operation).toBe('publish');
    }
    expect(arrived).toEqual([]);
  });

  it('a session of tenant A presenting tenant B’s token is refused', async () => {
    const { nc, creds } = await sessionOf(tokenA);
    const refused = new Promise<string>((resolve) =>
      nc.subscribe(creds.subjects.down, { callback: (_e, m) => resolve(m.headers?.get(NatsHeader.status) ?? 'frame') }),
    );
    await nc.request(creds.subjects.connect, tokenB, { timeout: 5_000 });
    expect(await refused).toBe('UNAUTHENTICATED');
  });

  it('no credentials for an unknown token, and no anonymous NATS users', async () => {
    const res = await fetch(new URL(NATS_CREDENTIALS_PATH, cp.httpUrl), {
      method: 'POST',
      headers: { authorization: 'Bearer atd_not_a_token', 'content-type': 'application/json' },
      body: JSON.stringify({ publicKey: createUser().getPublicKey() }),
    });
    expect(res.status).toBe(401);
    await expect(connect({ servers: [nats.url], reconnect: false })).rejects.toThrow(/authoriz/i);
  });

  it('control: its own session registers over the raw subjects and closes with a close notice', async () => {
    const { nc, creds } = await sessionOf(tokenA);
    const frames: string[] = [];
    nc.subscribe(creds.subjects.down, {
      callback: (_e, m) => {
        if (m.headers) return;
        frames.push(fromBinary(ControlFrameSchema, m.data).frame.case ?? '');
      },
    });
    await nc.request(creds.subjects.connect, tokenA, { timeout: 5_000 });
    const hello = create(DelegateFrameSchema, {
      frame: { case: 'hello', value: { name: 'raw-a', instanceId: 'raw-a-1', tags: [], taskTypes: ['echo'], maxConcurrency: 1, version: '0.0.0' } },
    });
    nc.publish(creds.subjects.up, toBinary(DelegateFrameSchema, hello));
    const deadline = Date.now() + 5_000;
    while (!frames.includes('welcome') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(frames).toContain('welcome');
    const h = headers();
    h.set(NatsHeader.close, '1');
    nc.publish(creds.subjects.up, new Uint8Array(0), { headers: h });
  });
});

/**
 * NATS gives neither side a signal when the other goes away, so each watches for silence. These run
 * last in the file: the second restarts the shared nats-server.
 */
describe('NATS carrier: silence and a lost NATS connection', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let token: string;

  beforeAll(async () => {
    cp = await startControlPlane(controlPlaneEnv);
    tenant = await createTenant(cp, 'nats-silence');
    token = (await createToken(tenant)).token;
  });
  afterAll(async () => {
    await cp?.stop();
  });

  /**
   * A replica on a nats-server of its own (on the shared one, this file's other control plane, with
   * another database, is in the same connect queue group and could take the session request) with
   * one delegate; `lose` is done to the replica, and the delegate's "reconnecting" line is returned
   * with how long after `lose` it came.
   */
  async function lostReplica(name: string, env: Record<string, string>, lose: (victim: ControlPlaneHandle) => Promise<void>) {
    const ownNats = await startNats({ config: setup.serverConfig });
    const victim = await startControlPlane({ ...controlPlaneEnv, ATTACHE_NATS_URL: ownNats.url, ...env });
    const victimTenant = await createTenant(victim, `${name}-victim`);
    const d = spawnDelegate({ url: `${ownNats.url}?api=${encodeURIComponent(victim.httpUrl)}`, token: (await createToken(victimTenant)).token, name });
    try {
      await waitForDelegates(victimTenant, name);
      const lostAt = Date.now();
      await lose(victim);
      const line = await eventually(async () => jsonLines(d).find((l) => l['msg'] === 'disconnected; reconnecting'), 20_000, `the delegate ${name} to notice`);
      return { line: JSON.stringify(line), noticedMs: Date.parse(String(line['time'])) - lostAt };
    } finally {
      victim.proc.kill('SIGCONT');
      await d.stop(2_000);
      await victim.stop();
      await ownNats.stop();
    }
  }

  it('a delegate gives up on a silent replica after the heartbeat timeout its Welcome named, not a fixed 15 s', async () => {
    // FAST_TIMINGS: pings every 200 ms while idle, heartbeat timeout 1500 ms. Frozen, not killed:
    // its NATS connection and subscriptions stay, so frames still reach nats-server and only
    // silence can tell the delegate that nobody answers.
    const { line, noticedMs } = await lostReplica('silent-replica', {}, async (victim) => victim.proc.kill('SIGSTOP'));
    process.stdout.write(`[nats-silence] delegate noticed a frozen replica after ${noticedMs} ms (Welcome heartbeat timeout 1500 ms)\n`);
    expect(line).toMatch(/KEEPALIVE_TIMEOUT|nothing from the control plane for 1500 ms/);
    expect(noticedMs).toBeLessThan(10_000);
  });

  it('a delegate notices a killed replica at its next frame (no responders), long before the heartbeat timeout', async () => {
    // Heartbeats every 200 ms, but 20 s of silence allowed: only nats-server's "no responders"
    // answer to a frame can make the delegate notice within a few seconds.
    const { line, noticedMs } = await lostReplica('killed-replica', { ATTACHE_HEARTBEAT_TIMEOUT_MS: '20000' }, async (victim) => {
      victim.proc.kill('SIGKILL');
      await victim.proc.exited;
    });
    process.stdout.write(`[nats-silence] delegate noticed a SIGKILLed replica after ${noticedMs} ms (heartbeat every 200 ms, timeout 20 s)\n`);
    expect(line).toMatch(/replica serving this session is gone/);
    expect(line).not.toMatch(/KEEPALIVE_TIMEOUT/);
    expect(noticedMs).toBeLessThan(5_000);
  });

  it('a replica whose NATS connection drops ends its NATS sessions at once; the delegate registers again and gets work', async () => {
    const d = spawnDelegate({ url: natsUrlFor(cp), token, name: 'nats-restart' });
    try {
      await waitForDelegates(tenant, 'nats-restart');
      await nats.restart();
      await eventually(
        async () => (jsonLines(cp.proc).some((l) => l['msg'] === 'nats carrier: connection to NATS lost; ending its delegate sessions') ? true : undefined),
        15_000,
        'the replica to end its sessions',
      );
      // It registers again on a new session; the old one is gone, not left to time out.
      await eventually(
        async () => (jsonLines(d).filter((l) => l['msg'] === 'registered').length >= 2 ? true : undefined),
        30_000,
        'the delegate to register again',
      );
      // The old session ended when the replica lost NATS, before the new one registered: not by a
      // missed-heartbeat timeout afterwards.
      const cpLines = jsonLines(cp.proc).filter((l) => l['name'] === 'nats-restart');
      const ended = cpLines.findIndex((l) => l['msg'] === 'delegate disconnected' && /UNAVAILABLE/.test(String(l['reason'])));
      const again = cpLines.findIndex((l, i) => i > 0 && l['msg'] === 'delegate registered');
      expect(ended, cpLines.map((l) => `${String(l['msg'])} ${String(l['reason'] ?? '')}`).join('; ')).toBeGreaterThan(0);
      expect(ended).toBeLessThan(again);
      await waitForDelegates(tenant, 'nats-restart');
      const id = (await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'after restart' }, selectors: ['nats-restart'] })).body.id;
      expect((await tenant.api.get(`/v1/tasks/${id}?waitSeconds=20`)).body).toMatchObject({ state: 'succeeded', attempt: 1 });
    } finally {
      await d.stop(2_000);
    }
  });
});
