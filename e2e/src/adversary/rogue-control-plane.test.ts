import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { mkdir, mkdtemp, open, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary, toJson, type MessageInitShape } from '@bufbuild/protobuf';
import { aws, TaskErrorSchema, type Result } from '@attache/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findLeaks, runCli, startRelay, type Canary, type Relay } from '../support/canary.js';
import { spawnDelegate } from '../support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from '../support/moto.js';
import type { Proc } from '../support/process.js';
import { startRecorder, type Recorder } from '../support/recorder.js';
import { startRogueControlPlane, type RogueControlPlane } from '../support/rogue-control-plane.js';

type Payload = MessageInitShape<typeof aws.ValidateAccountPayloadSchema>;

/** A certificate the tasks never get to use: every SCAP task here is refused before the TLS handshake. */
const TEST_CERTIFICATE = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

/**
 * The compromised control plane. A server that speaks protocol v1 assigns hostile aws.validate and
 * aws.listPolicies tasks straight to real delegate processes, so no API-side check helps: what
 * holds is the delegate's own policy. For every channel a secret could leave by (each endpoint
 * override, IRSA, Pod Identity, SCAP and CAP portals, the delegate's proxy, every reference field,
 * ATTACHE_* settings, the key and state files, service-account tokens, huge and special files),
 * the test asserts that the attacker's listener on another loopback address saw no connection at
 * all, and that no canary reached the rogue (results), the "AWS" the delegate trusts (a recording
 * relay in front of moto) or the delegate's logs.
 */
describe('adversary: a rogue control plane cannot widen the delegate policy', () => {
  let dir: string;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let relay: Relay;
  let recorder: Recorder;
  let redirector: Server;
  let redirectorUrl: string;
  let podServer: Server;
  /** The customer's delegate: narrow policy, the recorder as its HTTPS proxy so any https attempt shows. */
  let narrow: { rogue: RogueControlPlane; proc: Proc };
  /** A careless installer's delegate: every env variable and every file allowed; only the reserved rules stand. */
  let wide: { rogue: RogueControlPlane; proc: Proc };
  const results: Result[] = [];
  const canaries: Canary[] = [];
  const paths = {} as Record<'secrets' | 'keyFile' | 'wideKeyFile' | 'stateDir' | 'saToken' | 'podToken' | 'outside' | 'big' | 'fifo' | 'dbPassword' | 'accessKeyFile' | 'secretKeyFile', string>;
  const canary = (name: string) => {
    const value = `canary-${name}-${randomBytes(12).toString('hex')}`;
    canaries.push({ name, value });
    return value;
  };
  const tokens = { narrow: '', wide: '' };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-adversary-'));
    moto = await startMoto();
    ids = await setupAwsIdentities(moto.endpoint);
    await moto.enforceAuth();
    relay = await startRelay(moto.port);
    recorder = await startRecorder();

    // An allowed endpoint that tries to send the delegate on to the attacker.
    redirector = createHttpServer((req, res) => {
      res.writeHead(307, { location: `${recorder.origin('http')}${req.url ?? '/'}` });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    redirectorUrl = `http://127.0.0.1:${(redirector.address() as { port: number }).port}`;

    // The local Pod Identity agent (trusted: the delegate's own environment names it).
    podServer = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ AccessKeyId: ids.validUser.accessKeyId, SecretAccessKey: ids.validUser.secretAccessKey, Token: '', Expiration: new Date(Date.now() + 3_600_000).toISOString() }));
    });
    await new Promise<void>((resolve) => podServer.listen(0, '127.0.0.1', resolve));

    paths.secrets = join(dir, 'secrets');
    paths.outside = join(dir, 'outside-secret');
    paths.stateDir = join(dir, 'state');
    paths.saToken = join(dir, 'sa', 'token');
    paths.podToken = join(dir, 'pod', 'token');
    paths.big = join(paths.secrets, 'big');
    paths.fifo = join(paths.secrets, 'pipe');
    paths.dbPassword = join(paths.secrets, 'db-password');
    paths.accessKeyFile = join(paths.secrets, 'aws-access-key-id');
    paths.secretKeyFile = join(paths.secrets, 'aws-secret-access-key');
    for (const d of [join(paths.secrets, 'subdir'), paths.stateDir, join(dir, 'sa'), join(dir, 'pod'), join(dir, 'keys')]) await mkdir(d, { recursive: true });
    await writeFile(paths.outside, canary('file outside the allowed directory'), { mode: 0o600 });
    await writeFile(paths.dbPassword, canary('database password file'), { mode: 0o600 });
    await writeFile(paths.saToken, canary('service-account token'), { mode: 0o600 });
    await writeFile(paths.podToken, canary('pod identity token'), { mode: 0o600 });
    await writeFile(join(paths.stateDir, 'notes'), canary('state dir file'), { mode: 0o600 });
    await writeFile(paths.accessKeyFile, ids.validUser.accessKeyId);
    await writeFile(paths.secretKeyFile, ids.validUser.secretAccessKey, { mode: 0o600 });
    await symlink(paths.outside, join(paths.secrets, 'escape'));
    // 100 MB without writing 100 MB: a sparse file whose first bytes are a canary.
    const big = await open(paths.big, 'w');
    await big.write(canary('huge file'));
    await big.truncate(100 * 1024 * 1024);
    await big.close();
    execFileSync('mkfifo', [paths.fifo]);

    const keygen = JSON.parse((await runCli(['keygen', '--out', join(dir, 'keys', 'group-key.pem')])).stdout) as { keyFile: string };
    paths.keyFile = keygen.keyFile;
    const keyPem = await readFile(paths.keyFile, 'utf8');
    canaries.push({ name: 'group private key', value: keyPem.split('\n').filter((l) => l && !l.startsWith('-----')).join('') });
    // The careless delegate's own key, inside what its `file:/*` allows: only the reserved rule keeps it.
    paths.wideKeyFile = (JSON.parse((await runCli(['keygen', '--out', join(dir, 'keys', 'wide-key.pem')])).stdout) as { keyFile: string }).keyFile;
    const wideKeyPem = await readFile(paths.wideKeyFile, 'utf8');
    canaries.push({ name: 'wide group private key', value: wideKeyPem.split('\n').filter((l) => l && !l.startsWith('-----')).join('') });
    canaries.push({ name: 'valid secret key', value: ids.validUser.secretAccessKey });

    const baseEnv = (token: string): Record<string, string> => ({
      ATTACHE_KEY_FILE: paths.keyFile,
      AWS_ENDPOINT_URL: `http://127.0.0.1:${relay.port}`,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: ids.validUser.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ids.validUser.secretAccessKey,
      AWS_WEB_IDENTITY_TOKEN_FILE: paths.saToken,
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/irsa-pod-role',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(podServer.address() as { port: number }).port}/creds`,
      AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: paths.podToken,
      DB_PASSWORD: canary('database password variable'),
      TOKEN_COPY: token,
      ATTACHE_CANARY_SETTING: canary('ATTACHE_ setting'),
    });

    tokens.narrow = canary('narrow delegate token');
    const narrowRogue = await startRogueControlPlane();
    narrow = {
      rogue: narrowRogue,
      proc: spawnDelegate({
        url: narrowRogue.url,
        token: tokens.narrow,
        name: 'customer',
        env: {
          ...baseEnv(tokens.narrow),
          ATTACHE_ALLOW_REFS: `env:AWS_*,env:DB_*,file:${paths.secrets}/*`,
          ATTACHE_ALLOW_ENDPOINTS: redirectorUrl,
          // grpc-js reads only the lower-case proxy variables, so the carrier is unaffected; every
          // HTTPS call on an account's behalf would open a tunnel through the attacker's listener.
          HTTPS_PROXY: recorder.origin('http'),
        },
      }),
    };
    tokens.wide = canary('wide delegate token');
    const wideRogue = await startRogueControlPlane();
    wide = {
      rogue: wideRogue,
      proc: spawnDelegate({
        url: wideRogue.url,
        token: tokens.wide,
        name: 'careless',
        env: {
          ...baseEnv(tokens.wide),
          ATTACHE_ALLOW_REFS: 'env:*,file:/*',
          ATTACHE_STATE_DIR: paths.stateDir,
          ATTACHE_KEY_FILE: paths.wideKeyFile,
          // The attacker's listener is even an allowed portal here: only the reference policy stands
          // between a reserved reference fed to a SCAP userKey and a connection to it.
          ATTACHE_ALLOW_ENDPOINTS: recorder.origin('https'),
        },
      }),
    };
    await narrow.rogue.hello();
    await wide.rogue.hello();
  }, 120_000);

  afterAll(async () => {
    await narrow?.proc.stop();
    await wide?.proc.stop();
    await narrow?.rogue.close();
    await wide?.rogue.close();
    await recorder?.close();
    await relay?.close();
    redirector?.close();
    podServer?.close();
    await moto?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const staticAuth = (accessKeyIdRef: string, secretAccessKeyRef: string, sessionTokenRef = '') => ({ case: 'static' as const, value: { accessKeyIdRef, secretAccessKeyRef, sessionTokenRef } });
  const goodStatic = () => staticAuth('env:AWS_ACCESS_KEY_ID', 'env:AWS_SECRET_ACCESS_KEY');

  const run = async (delegate: { rogue: RogueControlPlane }, payload: Payload, type = 'aws.validate'): Promise<{ code: string; message: string; details: Record<string, unknown> } | 'success'> => {
    const result =
      type === 'aws.validate'
        ? await delegate.rogue.assign(type, aws.ValidateAccountPayloadSchema, { accountId: 'acc_rogue', partition: 'aws', ...payload })
        : await delegate.rogue.assign(type, aws.ListPoliciesPayloadSchema, { account: { accountId: 'acc_rogue', partition: 'aws', ...payload } });
    results.push(result);
    if (result.outcome.case === 'success') return 'success';
    if (result.outcome.case !== 'error') throw new Error('a Result without an outcome');
    const error = result.outcome.value;
    return { code: error.code, message: error.message, details: (toJson(TaskErrorSchema, error) as { details?: Record<string, unknown> }).details ?? {} };
  };
  const refused = async (delegate: { rogue: RogueControlPlane }, payload: Payload, code: string, type = 'aws.validate') => {
    const outcome = await run(delegate, payload, type);
    if (outcome === 'success') throw new Error(`the delegate ran a hostile task: ${JSON.stringify(payload, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))}`);
    expect(outcome.code, `${outcome.code}: ${outcome.message}`).toBe(code);
    return outcome;
  };

  it('runs an honest validation through the trusted AWS endpoint (positive control for the scans)', async () => {
    const outcome = await run(narrow, { auth: { kind: goodStatic() } });
    expect(outcome).toBe('success');
    const ok = results.at(-1)!;
    const answer = fromBinary(aws.ValidateAccountResultSchema, ok.outcome.value as Uint8Array);
    expect(answer.arn).toBe(ids.validUser.arn);
    // The access key id travels in the Authorization header: the relay scan sees what was sent.
    expect(relay.received().includes(Buffer.from(ids.validUser.accessKeyId))).toBe(true);
  });

  it('refuses every endpoint override outside ATTACHE_ALLOW_ENDPOINTS before connecting', async () => {
    for (const scheme of ['https', 'http'] as const) {
      const attacker = recorder.origin(scheme);
      for (const field of ['sts', 'ec2'] as const) {
        const outcome = await refused(narrow, { auth: { kind: goodStatic() }, endpoints: { [field]: attacker } }, 'ENDPOINT_NOT_ALLOWED');
        expect(outcome.message).toContain('ATTACHE_ALLOW_ENDPOINTS');
        expect(outcome.message).toContain(attacker);
      }
      await refused(narrow, { auth: { kind: goodStatic() }, endpoints: { iam: attacker } }, 'ENDPOINT_NOT_ALLOWED', 'aws.listPolicies');
    }
    // Hosts under amazonaws.com that anyone can stand up (API Gateway, load balancers, EC2 names) are not AWS's endpoints.
    for (const host of ['https://abc123.execute-api.us-east-1.amazonaws.com', 'https://evil-1.us-east-1.elb.amazonaws.com', 'https://ec2-1-2-3-4.compute-1.amazonaws.com', 'http://sts.us-east-1.amazonaws.com']) {
      await refused(narrow, { auth: { kind: goodStatic() }, endpoints: { sts: host } }, 'ENDPOINT_NOT_ALLOWED');
    }
    expect(recorder.connections).toBe(0);
  });

  it('sends the secret key and the delegate token nowhere: not as headers, not to the attacker', async () => {
    const hostile = staticAuth('env:AWS_SECRET_ACCESS_KEY', 'env:AWS_SECRET_ACCESS_KEY', 'env:ATTACHE_TOKEN');
    await refused(narrow, { auth: { kind: hostile }, endpoints: { sts: recorder.origin('http') } }, 'ENDPOINT_NOT_ALLOWED');
    // Without the endpoint, towards the AWS the delegate trusts: refused by the reference policy.
    const outcome = await refused(narrow, { auth: { kind: hostile } }, 'SECRET_NOT_ALLOWED');
    expect(outcome.details).toMatchObject({ setting: 'ATTACHE_ALLOW_REFS' });
    expect(outcome.message).toContain('ATTACHE_ALLOW_REFS');
  });

  it('feeds a header field only from a reference named for it', async () => {
    for (const [accessKeyIdRef, sessionTokenRef] of [
      ['env:DB_PASSWORD', ''],
      [`file:${paths.dbPassword}`, ''],
      [`file:${paths.secretKeyFile}`, ''],
      ['env:AWS_ACCESS_KEY_ID', 'env:AWS_SECRET_ACCESS_KEY'],
      ['env:AWS_ACCESS_KEY_ID', 'env:DB_PASSWORD'],
      ['env:AWS_ACCESS_KEY_ID', `file:${paths.dbPassword}`],
    ] as const) {
      const outcome = await refused(narrow, { auth: { kind: staticAuth(accessKeyIdRef, 'env:AWS_SECRET_ACCESS_KEY', sessionTokenRef) } }, 'SECRET_NOT_ALLOWED');
      expect(outcome.details).toMatchObject({ reason: 'field-not-allowed' });
    }
    // A file named for its field is fine, and a secret only ever signs: AWS rejects the signature, the value stays home.
    expect(await run(narrow, { auth: { kind: staticAuth(`file:${paths.accessKeyFile}`, `file:${paths.secretKeyFile}`) } })).toBe('success');
    const signedOnly = await run(narrow, { auth: { kind: staticAuth('env:AWS_ACCESS_KEY_ID', 'env:DB_PASSWORD') } });
    expect(signedOnly).not.toBe('success');
  });

  it('resolves only references inside ATTACHE_ALLOW_REFS, without touching what is outside', async () => {
    for (const ref of ['env:HOME', 'env:PATH', `file:${paths.outside}`, `file:${paths.secrets}/../outside-secret`, `file:${paths.secrets}/escape`, 'file:/etc/passwd']) {
      const outcome = await refused(narrow, { auth: { kind: staticAuth('env:AWS_ACCESS_KEY_ID', ref) } }, 'SECRET_NOT_ALLOWED');
      expect(outcome.details).toMatchObject({ reference: ref, setting: 'ATTACHE_ALLOW_REFS' });
    }
    // Refused before any file system access: a missing path outside the policy is not reported as missing.
    const missing = await refused(narrow, { auth: { kind: staticAuth('env:AWS_ACCESS_KEY_ID', `file:${dir}/no-such-file`) } }, 'SECRET_NOT_ALLOWED');
    expect(missing.details).toMatchObject({ reason: 'not-in-policy' });
  });

  it('never resolves ATTACHE_* settings, its token, its keys, its state or service-account tokens, whatever the patterns say', async () => {
    const reserved = [
      'env:ATTACHE_TOKEN',
      'env:ATTACHE_CANARY_SETTING',
      'env:TOKEN_COPY',
      // Its group key file, and the place a key generated without one would live.
      `file:${paths.wideKeyFile}`,
      `file:${join(paths.stateDir, 'group-key.pem')}`,
      `file:${join(paths.stateDir, 'notes')}`,
      `file:${paths.saToken}`,
      `file:${paths.podToken}`,
      'file:/var/run/secrets/kubernetes.io/serviceaccount/token',
      'file:/var/run/secrets/eks.amazonaws.com/serviceaccount/token',
      'file:/proc/self/environ',
      'file:/proc/1/environ',
      'file:/dev/zero',
      'file:/sys/kernel/notes',
    ];
    for (const ref of reserved) {
      for (const auth of [staticAuth('env:AWS_ACCESS_KEY_ID', ref), staticAuth('env:AWS_ACCESS_KEY_ID', 'env:AWS_SECRET_ACCESS_KEY', ref)]) {
        const outcome = await refused(wide, { auth: { kind: auth } }, 'SECRET_NOT_ALLOWED');
        expect(['reserved', 'field-not-allowed'], `${ref}: ${outcome.message}`).toContain(outcome.details['reason']);
      }
    }
    // The one field that takes a key and is never sent, SCAP's userKey, is held to the same rules,
    // before the mutual-TLS request to the (here allowed) portal is made.
    for (const ref of ['env:ATTACHE_TOKEN', 'env:TOKEN_COPY', `file:${paths.wideKeyFile}`, `file:${join(paths.stateDir, 'notes')}`, `file:${paths.saToken}`, `file:${paths.podToken}`, 'file:/proc/self/environ', 'file:/dev/zero']) {
      const outcome = await refused(
        wide,
        {
          partition: 'aws-iso-b',
          testRegion: 'us-isob-east-1',
          auth: { kind: { case: 'scap', value: { portalUrl: `${recorder.origin('https')}/getTemporaryCredentials`, agencyName: 'A', accountName: 'B', roleName: 'R', userCertificate: TEST_CERTIFICATE, userKeyRef: ref } } },
        },
        'SECRET_NOT_ALLOWED',
      );
      expect(outcome.details, `${ref}: ${outcome.message}`).toMatchObject({ reference: ref, reason: 'reserved' });
    }
    expect(recorder.connections).toBe(0);
    // The key file of the narrow delegate, which lies outside its patterns, is refused there too.
    await refused(narrow, { auth: { kind: staticAuth('env:AWS_ACCESS_KEY_ID', `file:${paths.keyFile}`) } }, 'SECRET_NOT_ALLOWED');
  });

  it('reads files with a bound: huge files, FIFOs and directories are clear errors, the delegate stays small', async () => {
    const rssBefore = rssKb(narrow.proc);
    const huge = await refused(narrow, { auth: { kind: staticAuth('env:AWS_ACCESS_KEY_ID', `file:${paths.big}`) } }, 'SECRET_UNRESOLVED');
    expect(huge.details).toMatchObject({ reason: 'too-large' });
    const started = Date.now();
    const fifo = await refused(narrow, { auth: { kind: staticAuth('env:AWS_ACCESS_KEY_ID', `file:${paths.fifo}`) } }, 'SECRET_UNRESOLVED');
    expect(fifo.details).toMatchObject({ reason: 'not-regular-file' });
    expect(Date.now() - started).toBeLessThan(5_000);
    const directory = await refused(narrow, { auth: { kind: staticAuth('env:AWS_ACCESS_KEY_ID', `file:${join(paths.secrets, 'subdir')}`) } }, 'SECRET_UNRESOLVED');
    expect(directory.details).toMatchObject({ reason: 'not-regular-file' });
    // A 100 MB read would add 100 MB or more; the bound keeps it to the 64 KiB it may read.
    expect(rssKb(narrow.proc) - rssBefore).toBeLessThan(50 * 1024);
  });

  it('keeps the web identity token and Pod Identity credentials away from an STS of the attacker', async () => {
    await refused(narrow, { auth: { kind: { case: 'irsa', value: {} } }, endpoints: { sts: recorder.origin('https') } }, 'ENDPOINT_NOT_ALLOWED');
    await refused(narrow, { auth: { kind: { case: 'irsa', value: { roleArn: 'arn:aws:iam::123456789012:role/x' } } }, endpoints: { sts: recorder.origin('http') } }, 'ENDPOINT_NOT_ALLOWED');
    await refused(narrow, { auth: { kind: { case: 'podIdentity', value: {} } }, endpoints: { sts: recorder.origin('http') } }, 'ENDPOINT_NOT_ALLOWED');
    await refused(
      narrow,
      {
        auth: { kind: { case: 'assumeRole', value: { roleArn: ids.role.roleArn, externalId: 'x', source: { kind: { case: 'podIdentity', value: {} } } } } },
        endpoints: { sts: recorder.origin('http') },
      },
      'ENDPOINT_NOT_ALLOWED',
    );
    expect(recorder.connections).toBe(0);
  });

  it('refuses SCAP and CAP portals it was not told about: no request into the customer network', async () => {
    const scap = (portalUrl: string) => ({
      case: 'scap' as const,
      value: { portalUrl, agencyName: 'A', accountName: 'B', roleName: 'R', userCertificate: TEST_CERTIFICATE, userKeyRef: `file:${paths.secretKeyFile}` },
    });
    for (const [partition, testRegion] of [
      ['aws-iso-b', 'us-isob-east-1'],
      ['aws-iso', 'us-iso-east-1'],
    ] as const) {
      const outcome = await refused(narrow, { partition, testRegion, auth: { kind: scap(`${recorder.origin('https')}/getTemporaryCredentials`) } }, 'ENDPOINT_NOT_ALLOWED');
      expect(outcome.details).toMatchObject({ setting: 'ATTACHE_ALLOW_ENDPOINTS' });
    }
    expect(recorder.connections).toBe(0);
  });

  it('does not follow a redirect from an allowed endpoint to the attacker', async () => {
    const outcome = await run(narrow, { auth: { kind: goodStatic() }, endpoints: { sts: redirectorUrl } });
    expect(outcome).not.toBe('success');
    expect(recorder.connections).toBe(0);
  });

  it('leaked nothing: no connection to the attacker, no canary in any result, AWS-bound byte or log line', async () => {
    expect(recorder.connections).toBe(0);
    const haystacks = [
      ...results.map((r, i) => ({ where: `result ${i} (${r.taskId})`, bytes: Buffer.from(JSON.stringify(r.outcome.case === 'error' ? toJson(TaskErrorSchema, r.outcome.value) : Buffer.from(r.outcome.value ?? []).toString('base64'))) })),
      { where: 'bytes sent towards AWS (relay)', bytes: relay.received() },
      { where: 'narrow delegate log', bytes: Buffer.from(narrow.proc.lines.join('\n')) },
      { where: 'wide delegate log', bytes: Buffer.from(wide.proc.lines.join('\n')) },
    ];
    // The honest runs sent the valid key pair's signature, never its secret; and the scan would see a leak:
    expect(findLeaks([{ where: 'control', bytes: Buffer.from(canaries[0]!.value) }], [canaries[0]!])).toHaveLength(1);
    expect(findLeaks(haystacks, canaries)).toEqual([]);
    expect(results.length).toBeGreaterThan(40);
  });
});

function rssKb(proc: Proc): number {
  const status = execFileSync('cat', [`/proc/${proc.child.pid}/status`]).toString();
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}
