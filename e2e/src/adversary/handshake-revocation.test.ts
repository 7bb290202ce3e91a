import { createHash } from 'node:crypto';
import { newRawKeyPair, proveKeyPossession, rawPrivateKeyOf, type ControlFrame } from '@attache/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNatsOperatorSetup } from '../../../control-plane/src/nats/account.js';
import { Api } from '../support/api.js';
import { createTenant, createToken, eventually, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from '../support/cluster.js';
import { openFrameClient, type FrameClient, type FrameClientEnd } from '../support/frame-client.js';
import { startNats, type NatsHandle } from '../support/nats.js';
import { startPostgres, type PostgresServer } from '../support/postgres.js';
import { jsonLines, type Proc } from '../support/process.js';

/**
 * Revoked means no Welcome and no task, also for a connection that is still in its handshake when
 * the token is revoked: opened but no Hello yet, or between Hello and KeyProof. Real control-plane
 * processes; the handshake is driven frame by frame over gRPC, WebSocket and NATS.
 *
 * The control planes log at debug level: "delegate connection authenticated" is how the test knows
 * the token passed its first check (a revocation before it is an ordinary refused connect).
 */
const SEALING_ALGORITHM = 'HPKE-X25519-HKDF-SHA256-AES-256-GCM';

/** A group key the scripted delegate really holds, so its KeyProof is valid. */
function groupKey() {
  const { privateKey, publicKey } = newRawKeyPair('x25519');
  const pub = Buffer.from(publicKey);
  const priv = Buffer.from(rawPrivateKeyOf(privateKey));
  return { keyId: createHash('sha256').update(pub).digest('hex').slice(0, 16), pub, priv };
}

const hello = (client: FrameClient, name: string, tags: string[], key?: ReturnType<typeof groupKey>) =>
  client.send({
    case: 'hello',
    value: {
      name,
      instanceId: `${name}-1`,
      tags,
      taskTypes: ['echo'],
      maxConcurrency: 4,
      version: '0.0.0-test',
      publicKeys: key ? [{ keyId: key.keyId, algorithm: SEALING_ALGORITHM, publicKey: key.pub }] : [],
    },
  });

const keyProof = (client: FrameClient, challenge: ControlFrame, key: ReturnType<typeof groupKey>) => {
  if (challenge.frame.case !== 'keyChallenge') throw new Error('not a KeyChallenge');
  client.send({ case: 'keyProof', value: { keys: [{ keyId: key.keyId, mac: proveKeyPossession(key.priv, key.pub, challenge.frame.value.ephemeralPublicKey) }] } });
};

async function endOf(client: FrameClient, timeoutMs = 10_000): Promise<FrameClientEnd> {
  const end = await Promise.race([client.ended, new Promise<null>((r) => setTimeout(() => r(null), timeoutMs))]);
  if (!end) throw new Error(`the connection was not closed within ${timeoutMs} ms (got: ${client.received.map((f) => f.frame.case).join(', ')})`);
  return end;
}

/** The control plane has checked this token on a connection and is waiting for its Hello. */
const authenticated = (cp: ControlPlaneHandle, tokenId: string) =>
  eventually(
    async () => (jsonLines(cp.proc).some((l) => l['msg'] === 'delegate connection authenticated; waiting for Hello' && l['tokenId'] === tokenId) ? true : undefined),
    10_000,
    'the control plane to accept the token',
  );

const revoke = async (api: Api, tokenId: string) => expect((await api.post(`/v1/delegate-tokens/${tokenId}/revoke`)).status).toBe(200);

function expectRevoked(client: FrameClient, end: FrameClientEnd): void {
  expect(end.goodbye, end.carrierReason).toMatchObject({ code: 'TOKEN_REVOKED' });
  expect(end.goodbye?.reason).toMatch(/token this delegate used was revoked/);
  const cases = client.received.map((f) => f.frame.case);
  expect(cases).not.toContain('welcome');
  expect(cases).not.toContain('assign');
}

/** nats-server in operator mode trusts one account whose signing key the control planes hold. */
const setup = await createNatsOperatorSetup();

describe('handshake revocation over every carrier', () => {
  let nats: NatsHandle;
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let holder: Proc;
  let holderId: string;
  let n = 0;
  const clients: FrameClient[] = [];

  beforeAll(async () => {
    nats = await startNats({ config: setup.serverConfig });
    cp = await startControlPlane({
      ATTACHE_LOG_LEVEL: 'debug',
      ATTACHE_NATS_URL: nats.url,
      ATTACHE_NATS_SIGNING_SEED: setup.signingSeed,
      ATTACHE_NATS_ACCOUNT: setup.accountPublicKey,
    });
    tenant = await createTenant(cp, 'handshake-revocation');
    // The honest delegate every task below is eligible for: one slot, kept busy while the race runs,
    // so the task waits in the queue for whichever eligible delegate registers first.
    holder = await startDelegate(tenant, { url: cp.grpcUrl, token: (await createToken(tenant, 'holder')).token, name: 'holder', tags: ['race'], maxConcurrency: 1 });
    holderId = (await tenant.api.get('/v1/delegates')).body.items.find((d: any) => d.name === 'holder').id;
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    await holder?.stop(2_000);
    await cp?.stop();
    await nats?.stop();
  });

  const urls: Record<string, () => string> = {
    grpc: () => cp.grpcUrl,
    websocket: () => cp.httpUrl.replace(/^http/, 'ws'),
    nats: () => `${nats.url}?api=${encodeURIComponent(cp.httpUrl)}`,
  };

  const task = (id: string) => tenant.api.get(`/v1/tasks/${id}`).then((r) => r.body);
  const echo = async (message: string, delayMs = 0) => {
    const res = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message, delayMs }, selectors: ['race'] });
    expect(res.status, res.text).toBe(201);
    return res.body.id as string;
  };

  /**
   * Occupies the holder, queues the task the race is about, runs `race`, then checks that the task
   * was never given to the revoked connection and runs on the holder once it is free.
   */
  async function withQueuedTask(race: (tokenId: string, token: string) => Promise<void>): Promise<void> {
    const blocker = await echo('occupy the holder', 60_000);
    await eventually(async () => ((await task(blocker)).state === 'running' ? true : undefined), 10_000, 'the holder to be busy');
    const queued = await echo('not for a revoked token');
    expect((await task(queued)).state).toBe('queued');
    const racer = await createToken(tenant, `racer-${++n}`);

    await race(racer.id, racer.token);

    // Had the connection been registered, its Welcome would have been followed by a claim at once.
    await new Promise((r) => setTimeout(r, 500));
    expect(await task(queued)).toMatchObject({ state: 'queued', attempt: 1, delegateId: null });
    const listed = (await tenant.api.get('/v1/delegates')).body.items as Array<{ name: string; tokenId: string }>;
    expect(listed.filter((d) => d.tokenId === racer.id)).toEqual([]);

    expect((await tenant.api.post(`/v1/tasks/${blocker}/cancel`)).body.state).toBe('cancelled');
    const done = (await tenant.api.get(`/v1/tasks/${queued}?waitSeconds=20`)).body;
    expect(done).toMatchObject({ state: 'succeeded', attempt: 1, delegateId: holderId, result: { message: 'not for a revoked token' } });
  }

  for (const carrier of ['grpc', 'websocket', 'nats'] as const) {
    describe(carrier, () => {
      it('revoked after the connection opened, before Hello: closed with TOKEN_REVOKED, never a Welcome, the task stays queued', async () => {
        await withQueuedTask(async (tokenId, token) => {
          const client = openFrameClient(urls[carrier]!(), token);
          clients.push(client);
          await client.opened;
          await authenticated(cp, tokenId);
          await revoke(tenant.api, tokenId);
          hello(client, `racer-${carrier}-${n}`, ['race']);
          expectRevoked(client, await endOf(client));
        });
      });

      it('revoked between Hello and KeyProof: a valid proof still gets TOKEN_REVOKED, never a Welcome', async () => {
        await withQueuedTask(async (tokenId, token) => {
          const key = groupKey();
          const client = openFrameClient(urls[carrier]!(), token);
          clients.push(client);
          await client.opened;
          hello(client, `racer-${carrier}-${n}`, ['race'], key);
          const challenge = await client.next((f) => f.frame.case === 'keyChallenge');
          await revoke(tenant.api, tokenId);
          keyProof(client, challenge, key);
          expectRevoked(client, await endOf(client));
        });
      });
    });
  }
});

/**
 * Two replicas on one PostgreSQL database. With the NATS bus, the revocation signal from the
 * replica that served the API call closes a handshake on the other one at once. Without a bus
 * between them (the signal lost, as a core NATS message can be), the replica holding the
 * handshake still refuses: it reads the token again just before Welcome.
 */
describe('handshake revocation across replicas', () => {
  let pg: PostgresServer;
  let nats: NatsHandle;
  const started: ControlPlaneHandle[] = [];
  const clients: FrameClient[] = [];
  const operatorKey = `atop_e2e_handshake_${Date.now()}_operator_key`;

  beforeAll(async () => {
    [pg, nats] = await Promise.all([startPostgres(), startNats({ config: setup.serverConfig })]);
  });
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });
  afterAll(async () => {
    for (const cp of started) await cp.stop();
    await nats?.stop();
    await pg?.stop();
  });

  async function replicas(database: string, env: Record<string, string>): Promise<[ControlPlaneHandle, ControlPlaneHandle, TenantHandle]> {
    const url = await pg.createDatabase(database);
    const [a, b] = [
      await startControlPlane({ ATTACHE_REPLICA_ID: `${database}-a`, ATTACHE_DATABASE_URL: url, ATTACHE_OPERATOR_KEY: operatorKey, ATTACHE_LOG_LEVEL: 'debug', ...env }),
      await startControlPlane({ ATTACHE_REPLICA_ID: `${database}-b`, ATTACHE_DATABASE_URL: url, ATTACHE_OPERATOR_KEY: operatorKey, ATTACHE_LOG_LEVEL: 'debug', ...env }),
    ];
    started.push(a, b);
    a.operator = new Api(a.httpUrl, operatorKey);
    return [a, b, await createTenant(a, database)];
  }

  it('with the NATS bus: revoked through replica A, a connection on B that has not said Hello is closed at once', async () => {
    const [, b, tenant] = await replicas('bus_signal', {
      ATTACHE_NATS_URL: nats.url,
      ATTACHE_NATS_SIGNING_SEED: setup.signingSeed,
      ATTACHE_NATS_ACCOUNT: setup.accountPublicKey,
    });
    const racer = await createToken(tenant, 'racer');
    const client = openFrameClient(b.grpcUrl, racer.token);
    clients.push(client);
    await authenticated(b, racer.id);
    await revoke(tenant.api, racer.id);
    // Nothing sent at all: only the signal can have closed it.
    expectRevoked(client, await endOf(client, 5_000));
  });

  it('without a bus between them: replica B, which never hears of the revocation, refuses at registration', async () => {
    const [, b, tenant] = await replicas('no_signal', {});
    const beforeHello = await createToken(tenant, 'before-hello');
    const first = openFrameClient(b.grpcUrl, beforeHello.token);
    clients.push(first);
    await authenticated(b, beforeHello.id);
    await revoke(tenant.api, beforeHello.id);
    // The signal cannot reach B: the connection stays open until B reads the token again.
    await new Promise((r) => setTimeout(r, 300));
    expect(first.received).toEqual([]);
    hello(first, 'racer-before-hello', []);
    expectRevoked(first, await endOf(first));

    const betweenHelloAndProof = await createToken(tenant, 'between');
    const key = groupKey();
    const second = openFrameClient(b.grpcUrl, betweenHelloAndProof.token);
    clients.push(second);
    hello(second, 'racer-between', [], key);
    const challenge = await second.next((f) => f.frame.case === 'keyChallenge');
    await revoke(tenant.api, betweenHelloAndProof.id);
    keyProof(second, challenge, key);
    expectRevoked(second, await endOf(second));
    // The log line is written as the connection closes; the client may see the close first.
    const refusals = await eventually(async () => {
      const lines = jsonLines(b.proc).filter((l) => l['msg'] === 'delegate refused at registration' && l['code'] === 'TOKEN_REVOKED');
      return lines.length >= 2 ? lines : undefined;
    }, 5_000, 'two registration refusals logged').catch(() => jsonLines(b.proc).filter((l) => l['msg'] === 'delegate refused at registration'));
    expect(refusals).toHaveLength(2);
  });
});
