import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatsOperatorSetup } from '../../control-plane/src/nats/account.js';
import type { Api, ApiResponse } from './support/api.js';
import { clientWebSocketPlaintext, encodings, findLeaks, runCli, startBlackHole, startRelay, type Canary, type Haystack, type Relay } from './support/canary.js';
import {
  createTenant,
  createToken,
  eventually,
  spawnDelegate,
  startControlPlane,
  waitForDelegates,
  type ControlPlaneHandle,
  type TenantHandle,
} from './support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from './support/moto.js';
import { startNats, type NatsHandle } from './support/nats.js';
import { postgresBinDir, startPostgres, type PostgresServer } from './support/postgres.js';
import type { Proc } from './support/process.js';

const run = promisify(execFile);
type Carrier = 'nats' | 'ws';
const CARRIERS: readonly Carrier[] = ['nats', 'ws'];

/**
 * The canary proof of `canary.test.ts`, in the scale-out deployment: two control-plane replicas on
 * one PostgreSQL database and one NATS server (operator mode, as `scripts/nats-setup.mjs` sets it
 * up), a delegate on the NATS carrier and a replica of the same group on WebSocket into the *other*
 * replica, so tasks, results and cancels cross the bus. The API is always asked on replica A.
 *
 * Every NATS client (both replicas and the NATS delegate) reaches nats-server only through a
 * recording TCP relay, so the recording is all NATS traffic in both directions, bus included. The
 * WebSocket delegate and the NATS delegate's credential exchange reach replica B through a second
 * relay. Afterwards a `pg_dump` of the database, every control-plane and nats-server log line, every
 * API answer and both recordings are scanned for each canary raw, base64, base64url and hex.
 */
const natsSetup = await createNatsOperatorSetup();

describe('canary, scale-out (PostgreSQL, NATS, two replicas): no secret reaches the control plane', () => {
  let pg: PostgresServer;
  let dbUrl: string;
  let nats: NatsHandle;
  let natsRelay: Relay;
  let httpRelayB: Relay;
  let cpA: ControlPlaneHandle;
  let cpB: ControlPlaneHandle;
  let tenant: TenantHandle;
  let api: Api;
  let moto: MotoServer;
  let ids: MotoIdentities;
  const delegates: Proc[] = [];
  /** Delegate id per carrier, to check where each task ran. */
  const delegateIds = new Map<Carrier, string>();
  let blackHole: Server;
  let dir: string;
  let keygen: { keyId: string; keyFile: string };
  const answers: string[] = [];
  /** Every validation task this test ran to its end, for the logs' positive control. */
  const endedTaskIds: string[] = [];
  const canaries: Canary[] = [];
  /**
   * The positive control: a reference the control plane legitimately holds (stored in the account,
   * sent in the task payload, named by the SECRET_UNRESOLVED error that comes back). The scan must
   * find it in the dump, the answers and both recordings, or those haystacks are not what we think.
   */
  const control = `env:CANARY_CONTROL_${randomBytes(8).toString('hex').toUpperCase()}`;

  const record = async (res: Promise<ApiResponse>): Promise<ApiResponse> => {
    const r = await res;
    answers.push(r.text);
    return r;
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-canary-so-'));
    // Independent servers start together: initdb, nats-server and moto each take a while.
    const [pgServer, natsServer, motoServer] = await Promise.all([startPostgres(), startNats({ config: natsSetup.serverConfig }), startMoto()]);
    pg = pgServer;
    nats = natsServer;
    moto = motoServer;
    dbUrl = await pg.createDatabase('attache');
    natsRelay = await startRelay(nats.port);

    const env = {
      ATTACHE_DATABASE_URL: dbUrl,
      ATTACHE_NATS_URL: `nats://127.0.0.1:${natsRelay.port}`,
      ATTACHE_NATS_SIGNING_SEED: natsSetup.signingSeed,
      ATTACHE_NATS_ACCOUNT: natsSetup.accountPublicKey,
    };
    // Sequential: both replicas migrate the same database (under an advisory lock, but no need to race).
    cpA = await startControlPlane(env);
    cpB = await startControlPlane(env);
    httpRelayB = await startRelay(Number(new URL(cpB.httpUrl).port));
    tenant = await createTenant(cpA, 'canary-scale-out');
    api = tenant.api;
    ids = await setupAwsIdentities(moto.endpoint, { externalId: tenant.externalId });
    await moto.enforceAuth();

    const wrongSecret = `${ids.validUser.secretAccessKey.slice(0, -8)}${randomBytes(4).toString('hex').toUpperCase()}`;
    canaries.push(
      { name: 'valid secret key (env, file and sealed)', value: ids.validUser.secretAccessKey },
      { name: 'secret key of a user without ec2:DescribeRegions', value: ids.userWithoutDescribeRegions.secretAccessKey },
      { name: 'role source user secret key', value: ids.roleSourceUser.secretAccessKey },
      { name: 'wrong secret key', value: wrongSecret },
    );
    await writeFile(join(dir, 'aws-secret'), `${ids.validUser.secretAccessKey}\n`, { mode: 0o600 });
    keygen = JSON.parse((await runCli(['keygen', '--out', join(dir, 'group-key.pem')])).stdout) as { keyId: string; keyFile: string };
    blackHole = await startBlackHole();

    // One group, two replicas sharing its key (as the docs require), told apart by a carrier tag.
    const { token } = await createToken(tenant, 'canary');
    const httpB = `http://127.0.0.1:${httpRelayB.port}`;
    const urls: Record<Carrier, string> = {
      nats: `nats://127.0.0.1:${natsRelay.port}?api=${encodeURIComponent(httpB)}`,
      ws: `ws://127.0.0.1:${httpRelayB.port}`,
    };
    for (const carrier of CARRIERS) {
      delegates.push(
        spawnDelegate({
          url: urls[carrier],
          token,
          name: 'vpc-east',
          tags: ['aws', `via-${carrier}`],
          env: {
            ATTACHE_KEY_FILE: keygen.keyFile,
            // What its installer lets it read (the control reference included, so that it fails as
            // unresolved), and the silent endpoint the cancellation case points at.
            ATTACHE_ALLOW_REFS: `env:GOOD_*,env:WRONG_*,env:NOPERM_*,env:SRC_*,env:CANARY_CONTROL_*,file:${join(dir, 'aws-secret')}`,
            ATTACHE_ALLOW_ENDPOINTS: `http://127.0.0.1:${(blackHole.address() as { port: number }).port}`,
            AWS_ENDPOINT_URL: moto.endpoint,
            AWS_EC2_METADATA_DISABLED: 'true',
            GOOD_ACCESS_KEY_ID: ids.validUser.accessKeyId,
            GOOD_SECRET: ids.validUser.secretAccessKey,
            WRONG_SECRET: wrongSecret,
            NOPERM_ACCESS_KEY_ID: ids.userWithoutDescribeRegions.accessKeyId,
            NOPERM_SECRET: ids.userWithoutDescribeRegions.secretAccessKey,
            SRC_ACCESS_KEY_ID: ids.roleSourceUser.accessKeyId,
            SRC_SECRET: ids.roleSourceUser.secretAccessKey,
          },
        }),
      );
    }
    for (const d of await waitForDelegates(tenant, 'vpc-east', 2, 30_000)) {
      const carrier = CARRIERS.find((c) => (d.tags as string[]).includes(`via-${c}`));
      if (carrier) delegateIds.set(carrier, d.id as string);
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(delegates.map((d) => d.stop()));
    await httpRelayB?.close();
    await Promise.all([cpA?.stop(), cpB?.stop()]);
    await natsRelay?.close();
    blackHole?.close();
    await Promise.all([nats?.stop(), pg?.stop(), moto?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  const newAccountId = async () => (await runCli(['new-account-id'])).stdout.trim();
  const seal = async (secret: string, accountId: string, field: string) =>
    (await runCli(['seal', '--api-url', cpA.httpUrl, '--group', 'vpc-east', '--account', accountId, '--field', field], secret, { ATTACHE_API_KEY: api.key })).stdout.trim();
  const staticEnv = (keyVar: string, secret: string) => ({ type: 'static', accessKeyId: `env:${keyVar}`, secretAccessKey: secret });

  it('runs both carriers into different replicas, one group key', async () => {
    const listed = (await record(api.get('/v1/delegates'))).body.items as Array<{ id: string; tags: string[]; transport: string; status: string }>;
    const byId = new Map(listed.map((d) => [d.id, d]));
    // The transport the control plane itself recorded, so a misrouted URL cannot pass for the other carrier.
    expect(byId.get(delegateIds.get('nats')!)?.transport).toMatch(/nats/i);
    expect(byId.get(delegateIds.get('ws')!)?.transport).toMatch(/web ?socket|^ws$/i);
    for (const d of listed) expect(d.tags).toContain(`key:${keygen.keyId}`);
    const key = await record(api.get('/v1/delegate-groups/vpc-east/public-key'));
    expect(key.body).toMatchObject({ group: 'vpc-east', current: { keyId: keygen.keyId } });
  });

  for (const carrier of CARRIERS) {
    describe(`over ${carrier === 'nats' ? 'NATS' : 'WebSocket (replica B)'}`, () => {
      const account = async (name: string, auth: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
        const res = await record(api.post('/v1/aws/accounts', { name: `${carrier}-${name}`, partition: 'aws', auth, delegateSelectors: ['aws', `via-${carrier}`], ...extra }));
        expect(res.status, res.text).toBe(201);
        return res.body.id as string;
      };
      const validate = async (id: string) => {
        const res = await record(api.post(`/v1/aws/accounts/${id}/validate?waitSeconds=30`));
        expect(res.status, res.text).toBe(200);
        const body = res.body as { account: any; task: any };
        expect(body.task.delegateId, JSON.stringify(body.task)).toBe(delegateIds.get(carrier));
        endedTaskIds.push(body.task.id as string);
        return body;
      };

      it('succeeds with env, file and sealed secrets, and with an assumed role', async () => {
        expect((await validate(await account('env', staticEnv('GOOD_ACCESS_KEY_ID', 'env:GOOD_SECRET')))).account.status).toBe('valid');
        expect((await validate(await account('file', staticEnv('GOOD_ACCESS_KEY_ID', `file:${join(dir, 'aws-secret')}`)))).account.status).toBe('valid');
        const id = await newAccountId();
        await account('sealed', staticEnv('GOOD_ACCESS_KEY_ID', await seal(ids.validUser.secretAccessKey, id, 'secretAccessKey')), { id });
        const ok = await validate(id);
        expect(ok.task.selectors).toContain(`key:${keygen.keyId}`);
        expect(ok.account).toMatchObject({ status: 'valid', arn: ids.validUser.arn });
        const role = await account('role', { type: 'assumeRole', roleArn: ids.role.roleArn, source: staticEnv('SRC_ACCESS_KEY_ID', 'env:SRC_SECRET') });
        expect((await validate(role)).account.status).toBe('valid');
      });

      it('fails in every reachable way without a secret in the answer', async () => {
        const codes = new Map<string, string>();
        const fail = async (name: string, auth: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
          const { task } = await validate(await account(name, auth, extra));
          expect(task.state, name).toBe('failed');
          codes.set(name, task.error.code);
        };
        await fail('wrong-secret', staticEnv('GOOD_ACCESS_KEY_ID', 'env:WRONG_SECRET'));
        await fail('no-permission', staticEnv('NOPERM_ACCESS_KEY_ID', 'env:NOPERM_SECRET'));
        // The positive control's reference: unresolvable, so the error names it on the way back.
        await fail('unresolved', staticEnv('GOOD_ACCESS_KEY_ID', control));
        await fail('wrong-external-id', { type: 'assumeRole', roleArn: ids.role.roleArn, externalId: 'not-the-right-one', source: staticEnv('SRC_ACCESS_KEY_ID', 'env:SRC_SECRET') });
        const wrongId = await newAccountId();
        await fail('sealed-wrong-secret', staticEnv('GOOD_ACCESS_KEY_ID', await seal(canaries[3]!.value, wrongId, 'secretAccessKey')), { id: wrongId });
        const tamperedId = await newAccountId();
        const sealed = await seal(ids.validUser.secretAccessKey, tamperedId, 'secretAccessKey');
        const last = sealed.at(-2) === 'A' ? 'B' : 'A';
        await fail('sealed-tampered', staticEnv('GOOD_ACCESS_KEY_ID', `${sealed.slice(0, -2)}${last}${sealed.at(-1)}`), { id: tamperedId });
        await fail('sealed-replayed', staticEnv('GOOD_ACCESS_KEY_ID', sealed), { id: await newAccountId() });
        const movedId = await newAccountId();
        const forKeyId = await seal(ids.validUser.secretAccessKey, movedId, 'secretAccessKey');
        await fail('sealed-moved-field', { type: 'static', accessKeyId: forKeyId, secretAccessKey: forKeyId }, { id: movedId });

        expect(Object.fromEntries(codes)).toEqual({
          'wrong-secret': 'INVALID_CREDENTIALS',
          'no-permission': 'MISSING_PERMISSION',
          unresolved: 'SECRET_UNRESOLVED',
          'wrong-external-id': 'ASSUME_ROLE_DENIED',
          'sealed-wrong-secret': 'INVALID_CREDENTIALS',
          'sealed-tampered': 'SEALED_VALUE_INVALID',
          'sealed-replayed': 'SEALED_VALUE_INVALID',
          'sealed-moved-field': 'SEALED_VALUE_INVALID',
        });
      });

      it('a validation cancelled (on replica A) while the delegate holds the opened secret', async () => {
        const id = await newAccountId();
        const hole = `http://127.0.0.1:${(blackHole.address() as { port: number }).port}`;
        await account('cancelled', staticEnv('GOOD_ACCESS_KEY_ID', await seal(ids.validUser.secretAccessKey, id, 'secretAccessKey')), { id, endpoints: { sts: hole, ec2: hole } });
        const started = await record(api.post(`/v1/aws/accounts/${id}/validate?waitSeconds=0`));
        const taskId = started.body.task.id as string;
        await eventually(async () => ((await record(api.get(`/v1/tasks/${taskId}`))).body.state === 'running' ? true : undefined), 15_000, 'task running');
        // Past Accepted, the delegate opens the sealed value and then waits on the silent endpoint.
        await sleep(1_000);
        expect((await record(api.post(`/v1/tasks/${taskId}/cancel`))).status).toBe(200);
        expect((await record(api.get(`/v1/tasks/${taskId}?waitSeconds=10`))).body.state).toBe('cancelled');
        // The delegate saw the cancel and reported its own outcome, through the recorded path.
        await delegates[CARRIERS.indexOf(carrier)]!.waitForLine((l) => l.includes(taskId) && l.includes('task finished'));
      });
    });
  }

  it('refuses a literal secret, and routes a value sealed to a key no delegate holds nowhere', async () => {
    const literal = await record(api.post('/v1/aws/accounts', { name: 'literal', partition: 'aws', auth: { type: 'static', accessKeyId: ids.validUser.accessKeyId, secretAccessKey: ids.validUser.secretAccessKey } }));
    expect(literal.status).toBe(400);
    const otherKey = JSON.parse((await runCli(['keygen', '--out', join(dir, 'other-key.pem')])).stdout) as { publicKeyFile: string; keyId: string };
    const strayId = await newAccountId();
    const stray = (await runCli(['seal', '--public-key-file', otherKey.publicKeyFile, '--tenant', tenant.id, '--account', strayId, '--field', 'secretAccessKey'], ids.validUser.secretAccessKey)).stdout.trim();
    const created = await record(api.post('/v1/aws/accounts', { id: strayId, name: 'sealed-other-group', partition: 'aws', auth: staticEnv('GOOD_ACCESS_KEY_ID', stray), delegateSelectors: ['aws'] }));
    expect(created.status, created.text).toBe(201);
    const { task } = (await record(api.post(`/v1/aws/accounts/${strayId}/validate?waitSeconds=30`))).body as { task: any };
    expect(task.error.code).toBe('NO_ELIGIBLE_DELEGATE');
  });

  it('scans the pg_dump, logs, API answers, NATS and WebSocket traffic: no canary in any form', async () => {
    for (const path of ['/v1/aws/accounts', '/v1/tasks?limit=500', '/v1/delegates', '/v1/delegate-groups/vpc-east/key-usage']) {
      expect((await record(api.get(path))).status).toBe(200);
    }
    // Everything the database holds, as an attacker with a dump would read it. Same binaries as the
    // server (a pg_dump of another major version refuses), same minimal C-locale environment as the
    // launcher uses for its own client tools; bytea comes out as hex, which the scan covers.
    const url = new URL(dbUrl);
    const { stdout: dump } = await run(
      join(postgresBinDir(), 'pg_dump'),
      ['-h', url.hostname, '-p', url.port, '-U', 'postgres', '--no-owner', decodeURIComponent(url.pathname.slice(1))],
      { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' }, encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
    );
    // Anything a replica kept on local disk besides PostgreSQL (nothing expected, scanned regardless).
    const localFiles = async (cp: ControlPlaneHandle, label: string): Promise<Haystack[]> =>
      Promise.all((await readdir(cp.dataDir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map(async (e) => ({ where: `${label} data dir: ${e.name}`, bytes: await readFile(join(e.parentPath, e.name)) })));

    const natsTraffic: Haystack[] = [
      { where: 'NATS: clients → nats-server (replicas, NATS delegate)', bytes: natsRelay.received() },
      { where: 'NATS: nats-server → clients', bytes: natsRelay.sent() },
    ];
    // The delegate's WebSocket frames are masked on the wire (RFC 6455): scanned unmasked, per connection.
    const wsTraffic: Haystack[] = [
      { where: 'replica B HTTP/WebSocket: delegates → control plane', bytes: Buffer.concat(httpRelayB.connections().map((c) => clientWebSocketPlaintext(c.received))) },
      { where: 'replica B HTTP/WebSocket: control plane → delegates', bytes: httpRelayB.sent() },
    ];
    const haystacks: Haystack[] = [
      { where: 'pg_dump', bytes: dump },
      { where: 'replica A log', bytes: Buffer.from(cpA.proc.lines.join('\n')) },
      { where: 'replica B log', bytes: Buffer.from(cpB.proc.lines.join('\n')) },
      { where: 'nats-server log', bytes: Buffer.from(nats.proc.lines.join('\n')) },
      { where: 'API answers', bytes: Buffer.from(answers.join('\n')) },
      ...natsTraffic,
      ...wsTraffic,
      ...(await localFiles(cpA, 'replica A')),
      ...(await localFiles(cpB, 'replica B')),
    ];

    // Positive control: the planted reference is found, by the same scan, wherever it must be. In the
    // dump (stored account); in the answers; in NATS traffic both ways (payload to the NATS delegate,
    // its error back); in the WebSocket session (payload down, error up), which went to replica B.
    const found = (hay: Haystack[]) => findLeaks(hay, [{ name: 'control', value: control }]);
    expect(found([haystacks[0]!])).not.toEqual([]);
    expect(found([haystacks[4]!])).not.toEqual([]);
    for (const hay of [...natsTraffic, ...wsTraffic]) expect(found([hay]), hay.where).not.toEqual([]);
    // The recordings carry the real sessions: both Hellos (group, key id) and the replicas' bus.
    expect(natsRelay.received().includes('vpc-east') && natsRelay.received().includes(keygen.keyId)).toBe(true);
    expect(wsTraffic[0]!.bytes.includes('vpc-east') && wsTraffic[0]!.bytes.includes(keygen.keyId)).toBe(true);
    // Why the unmasking: in the raw bytes of the WebSocket session, the Hello's key id is invisible.
    const upgraded = httpRelayB.connections().filter((c) => clientWebSocketPlaintext(c.received) !== c.received);
    expect(upgraded.length).toBeGreaterThanOrEqual(1);
    for (const c of upgraded) expect(c.received.includes(keygen.keyId)).toBe(false);
    expect(natsRelay.received().includes('attache.bus.')).toBe(true);
    // The logs are the replicas' real logs: every validation this test ran is in them ("task ended").
    const logs = haystacks.slice(1, 3);
    expect(endedTaskIds.length).toBeGreaterThanOrEqual(24);
    for (const id of endedTaskIds) expect(findLeaks(logs, [{ name: 'task id', value: id }]), id).not.toEqual([]);
    // ... and the scanner sees a probe in each encoding.
    const probe = 'canary-probe-value-0123456789';
    for (const form of encodings(probe)) expect(findLeaks([{ where: 'probe', bytes: Buffer.concat([Buffer.from('x'), form, Buffer.from('y')]) }], [{ name: 'probe', value: probe }])).not.toEqual([]);

    expect(findLeaks(haystacks, canaries)).toEqual([]);
  });
});
