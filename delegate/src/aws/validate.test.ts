import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import { aws } from '@attache/proto';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer, type MotoUserKeys } from '../../../e2e/src/support/moto.js';
import { awsValidateExecutor } from '../executors/aws-validate.js';
import type { ExecutionContext } from '../executors/executor.js';
import { TaskFailure } from '../executors/task-failure.js';
import { DelegatePolicy } from '../policy/delegate-policy.js';
import { parseOriginPatterns } from '../policy/origin-pattern.js';

type PayloadInit = MessageInitShape<typeof aws.ValidateAccountPayloadSchema>;

const TASK_ID = '0f3c9a7e-5b1d-4c2e-9f00-123456789abc';
const silent = pino({ level: 'silent' });

let moto: MotoServer;
let ids: MotoIdentities;
let govIds: MotoIdentities;
let dir: string;
/** Env vars set by a test, with their previous values; restored afterwards so tests do not see each other's secrets. */
const envSet = new Map<string, string | undefined>();

beforeAll(async () => {
  moto = await startMoto();
  ids = await setupAwsIdentities(moto.endpoint);
  // moto keeps one IAM world per partition, chosen by the signing region.
  govIds = await setupAwsIdentities(moto.endpoint, { region: 'us-gov-west-1' });
  await moto.enforceAuth();
  dir = await mkdtemp(join(tmpdir(), 'attache-aws-validate-'));
});

afterAll(async () => {
  await moto?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  for (const [name, previous] of envSet) {
    if (previous === undefined) delete process.env[name];
    else process.env[name] = previous;
  }
  envSet.clear();
});

function setEnv(name: string, value: string): string {
  if (!envSet.has(name)) envSet.set(name, process.env[name]);
  process.env[name] = value;
  return name;
}

let refCounter = 0;
/** Puts the keys into fresh env vars and returns a static auth pointing at them. */
function staticAuth(keys: Pick<MotoUserKeys, 'accessKeyId' | 'secretAccessKey'>): MessageInitShape<typeof aws.StaticAuthSchema> {
  const n = ++refCounter;
  return {
    accessKeyIdRef: `env:${setEnv(`VT${n}_ACCESS_KEY_ID`, keys.accessKeyId)}`,
    secretAccessKeyRef: `env:${setEnv(`VT${n}_SECRET`, keys.secretAccessKey)}`,
  };
}

/** Points both clients at moto through the payload's per-account endpoint overrides. */
function withMoto(init: Omit<PayloadInit, 'endpoints' | '$typeName'>): PayloadInit {
  return { partition: 'aws', ...init, endpoints: { sts: moto.endpoint, ec2: moto.endpoint } };
}

interface Run {
  readonly registered: string[];
  readonly outcome: Promise<aws.ValidateAccountResult>;
}

/**
 * The policy of a delegate installed for these tests: the test's variables and files, and (unless
 * `allowEndpoints` says otherwise) exactly the origins the payload's overrides name.
 */
function policyFor(init: PayloadInit, allowEndpoints?: string[]): DelegatePolicy {
  const named = [init.endpoints?.sts, init.endpoints?.ec2].filter((u): u is string => !!u).map((u) => new URL(u).origin);
  const parsed = parseOriginPatterns((allowEndpoints ?? named).join(','));
  if ('errors' in parsed) throw new Error(parsed.errors.join('; '));
  return new DelegatePolicy({ allowRefs: ['env:VT*', 'env:AWS_*', `file:${dir}/*`], allowEndpoints: parsed.origins });
}

interface RunOptions {
  signal?: AbortSignal;
  deadlineMs?: number;
  /** Origins of ATTACHE_ALLOW_ENDPOINTS; default: those the payload names. */
  allowEndpoints?: string[];
}

function run(init: PayloadInit, options: RunOptions = {}): Run {
  const registered: string[] = [];
  const ctx: ExecutionContext = {
    taskId: TASK_ID,
    attempt: 1,
    deadline: new Date(Date.now() + (options.deadlineMs ?? 20_000)),
    signal: options.signal ?? new AbortController().signal,
    log: silent,
    registerSecret: (value) => registered.push(value),
    policy: policyFor(init, options.allowEndpoints),
  };
  const payload = toBinary(aws.ValidateAccountPayloadSchema, create(aws.ValidateAccountPayloadSchema, init));
  const outcome = awsValidateExecutor.run(payload, ctx).then((bytes) => fromBinary(aws.ValidateAccountResultSchema, bytes));
  return { registered, outcome };
}

async function succeed(init: PayloadInit): Promise<{ result: aws.ValidateAccountResult; registered: string[] }> {
  const { outcome, registered } = run(init);
  return { result: await outcome, registered };
}

/** Runs to a TaskFailure and checks that nothing secret leaked into it. */
async function fail(init: PayloadInit, secrets: string[], options?: RunOptions): Promise<TaskFailure> {
  const { outcome, registered } = run(init, options);
  const error = await outcome.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TaskFailure);
  const failure = error as TaskFailure;
  const exposed = `${failure.message}\n${JSON.stringify(failure.details)}`;
  for (const secret of [...secrets, ...registered]) expect(exposed).not.toContain(secret);
  return failure;
}

describe('aws.validate against moto_server with auth enforced', () => {
  it('validates static keys and reports who they are', async () => {
    const { result, registered } = await succeed(withMoto({ auth: { kind: { case: 'static', value: staticAuth(ids.validUser) } } }));
    expect(result.accountId).toBe(ids.accountId);
    expect(result.arn).toBe(ids.validUser.arn);
    expect(result.userId).not.toBe('');
    expect(result.partition).toBe('aws');
    expect(result.region).toBe('us-east-1');
    expect(result.regions).toContain('us-east-1');
    expect(result.regions).toContain('eu-west-1');
    expect(result.steps.map((s) => s.name)).toEqual(['credentials', 'sts:GetCallerIdentity', 'ec2:DescribeRegions']);
    expect(registered).toContain(ids.validUser.secretAccessKey);
  });

  it('uses the test region from the payload', async () => {
    const { result } = await succeed(withMoto({ testRegion: 'eu-central-1', auth: { kind: { case: 'static', value: staticAuth(ids.validUser) } } }));
    expect(result.region).toBe('eu-central-1');
  });

  it('rejects a wrong secret as INVALID_CREDENTIALS', async () => {
    const wrong = 'Zx9wrongSecretValueThatIsNotTheRealOne000';
    const f = await fail(withMoto({ auth: { kind: { case: 'static', value: staticAuth({ accessKeyId: ids.validUser.accessKeyId, secretAccessKey: wrong }) } } }), [wrong]);
    expect(f.code).toBe('INVALID_CREDENTIALS');
    expect(f.message).toContain('AWS was not able to validate the provided access credentials');
    expect(f.details).toMatchObject({ awsErrorCode: 'SignatureDoesNotMatch', step: 'sts:GetCallerIdentity' });
    expect(f.details.requestId).toEqual(expect.any(String));
  });

  it('rejects an unknown access key as INVALID_CREDENTIALS', async () => {
    const secret = 'UnknownKeySecret0000000000000000000000000';
    const f = await fail(withMoto({ auth: { kind: { case: 'static', value: staticAuth({ accessKeyId: 'AKIAUNKNOWNKEY000000', secretAccessKey: secret }) } } }), [secret]);
    expect(f.code).toBe('INVALID_CREDENTIALS');
    expect(f.details).toMatchObject({ awsErrorCode: 'InvalidClientTokenId' });
  });

  it('reports a missing ec2:DescribeRegions as MISSING_PERMISSION', async () => {
    const user = ids.userWithoutDescribeRegions;
    const f = await fail(withMoto({ auth: { kind: { case: 'static', value: staticAuth(user) } } }), [user.secretAccessKey]);
    expect(f.code).toBe('MISSING_PERMISSION');
    expect(f.message).toContain('ec2:DescribeRegions');
    expect(f.message).toContain(user.arn);
    expect(f.details).toMatchObject({ action: 'ec2:DescribeRegions', step: 'ec2:DescribeRegions', awsErrorCode: 'AccessDenied' });
  });

  it('assumes a role with the right external ID', async () => {
    const { result, registered } = await succeed(
      withMoto({
        auth: {
          kind: {
            case: 'assumeRole',
            value: { roleArn: ids.role.roleArn, externalId: ids.role.externalId, source: { kind: { case: 'static', value: staticAuth(ids.roleSourceUser) } } },
          },
        },
      }),
    );
    expect(result.arn).toBe(`arn:aws:sts::${ids.accountId}:assumed-role/${ids.role.roleName}/attache-0f3c9a7e`);
    expect(result.accountId).toBe(ids.accountId);
    expect(result.steps.map((s) => s.name)).toEqual(['credentials', 'sts:AssumeRole', 'sts:GetCallerIdentity', 'ec2:DescribeRegions']);
    // The issued temporary secret and session token are masked too.
    expect(registered.length).toBeGreaterThanOrEqual(4);
  });

  it('uses the session name and duration from the payload', async () => {
    const { result } = await succeed(
      withMoto({
        auth: {
          kind: {
            case: 'assumeRole',
            value: {
              roleArn: ids.role.roleArn,
              externalId: ids.role.externalId,
              sessionName: 'onboarding-check',
              durationSeconds: 900,
              source: { kind: { case: 'static', value: staticAuth(ids.roleSourceUser) } },
            },
          },
        },
      }),
    );
    expect(result.arn).toBe(`arn:aws:sts::${ids.accountId}:assumed-role/${ids.role.roleName}/onboarding-check`);
  });

  it('reports a wrong external ID as ASSUME_ROLE_DENIED naming the role', async () => {
    const f = await fail(
      withMoto({
        auth: {
          kind: {
            case: 'assumeRole',
            value: { roleArn: ids.role.roleArn, externalId: 'not-the-tenant-id', source: { kind: { case: 'static', value: staticAuth(ids.roleSourceUser) } } },
          },
        },
      }),
      [ids.roleSourceUser.secretAccessKey],
    );
    expect(f.code).toBe('ASSUME_ROLE_DENIED');
    expect(f.message).toContain(ids.role.roleArn);
    expect(f.message).toContain('trust policy');
    expect(f.message).toContain('external ID');
    expect(f.details).toMatchObject({ step: 'sts:AssumeRole', awsErrorCode: 'AccessDenied' });
  });

  it('names a missing env reference as SECRET_UNRESOLVED', async () => {
    const f = await fail(
      withMoto({ auth: { kind: { case: 'static', value: { accessKeyIdRef: 'env:VT_NOT_SET_ACCESS_KEY_ID', secretAccessKeyRef: 'env:VT_NOT_SET_SECRET' } } } }),
      [],
    );
    expect(f.code).toBe('SECRET_UNRESOLVED');
    expect(f.message).toContain('env:VT_NOT_SET_ACCESS_KEY_ID');
    expect(f.details).toMatchObject({ reference: 'env:VT_NOT_SET_ACCESS_KEY_ID' });
  });

  it('re-reads a file: reference after it is rewritten', async () => {
    const secretFile = join(dir, 'secret-access-key');
    const wrong = 'RotatedAwayOldSecret00000000000000000000';
    await writeFile(secretFile, `${wrong}\n`);
    const payload = withMoto({
      auth: {
        kind: {
          case: 'static',
          value: { accessKeyIdRef: `env:${setEnv('VT_FILE_ACCESS_KEY_ID', ids.validUser.accessKeyId)}`, secretAccessKeyRef: `file:${secretFile}` },
        },
      },
    });
    const before = await fail(payload, [wrong]);
    expect(before.code).toBe('INVALID_CREDENTIALS');

    await writeFile(secretFile, `${ids.validUser.secretAccessKey}\n`);
    expect(await readFile(secretFile, 'utf8')).toContain(ids.validUser.secretAccessKey);
    const { result, registered } = await succeed(payload);
    expect(result.arn).toBe(ids.validUser.arn);
    expect(registered).toContain(ids.validUser.secretAccessKey);
  });

  it('reports a closed port as ENDPOINT_UNREACHABLE naming the endpoint', async () => {
    const port = await closedPort();
    const endpoint = `http://127.0.0.1:${port}`;
    const f = await fail(
      { partition: 'aws', endpoints: { sts: endpoint, ec2: endpoint }, auth: { kind: { case: 'static', value: staticAuth(ids.validUser) } } },
      [ids.validUser.secretAccessKey],
    );
    expect(f.code).toBe('ENDPOINT_UNREACHABLE');
    expect(f.message).toContain(endpoint);
    expect(f.details).toMatchObject({ errorCode: 'ECONNREFUSED', step: 'sts:GetCallerIdentity', endpoint });
  });

  it("uses the delegate's own chain and AWS_ENDPOINT_URL when the payload sets neither keys nor endpoints", async () => {
    setEnv('AWS_ACCESS_KEY_ID', ids.validUser.accessKeyId);
    setEnv('AWS_SECRET_ACCESS_KEY', ids.validUser.secretAccessKey);
    setEnv('AWS_ENDPOINT_URL', moto.endpoint);
    const { result, registered } = await succeed({ partition: 'aws', auth: { kind: { case: 'delegate', value: {} } } });
    expect(result.arn).toBe(ids.validUser.arn);
    expect(registered).toContain(ids.validUser.secretAccessKey);
  });

  it("assumes a role from the delegate's own chain when the role has no source", async () => {
    setEnv('AWS_ACCESS_KEY_ID', ids.roleSourceUser.accessKeyId);
    setEnv('AWS_SECRET_ACCESS_KEY', ids.roleSourceUser.secretAccessKey);
    const { result } = await succeed(withMoto({ auth: { kind: { case: 'assumeRole', value: { roleArn: ids.role.roleArn, externalId: ids.role.externalId } } } }));
    expect(result.arn).toContain(`:assumed-role/${ids.role.roleName}/`);
  });

  it('validates GovCloud keys in the GovCloud partition and its default region', async () => {
    const { result } = await succeed(withMoto({ partition: 'aws-us-gov', auth: { kind: { case: 'static', value: staticAuth(govIds.validUser) } } }));
    expect(result.partition).toBe('aws-us-gov');
    expect(result.region).toBe('us-gov-west-1');
    expect(result.arn).toBe(govIds.validUser.arn);
    expect(result.arn.startsWith('arn:aws-us-gov:')).toBe(true);
  });

  it('rejects a test region outside the partition before calling AWS', async () => {
    const f = await fail(withMoto({ partition: 'aws-us-gov', testRegion: 'us-east-1', auth: { kind: { case: 'static', value: staticAuth(govIds.validUser) } } }), [govIds.validUser.secretAccessKey]);
    expect(f.code).toBe('INVALID_PAYLOAD');
    expect(f.message).toContain('us-east-1');
  });
});

describe('aws.validate against endpoints that misbehave', () => {
  let silentServer: Server;
  let silentEndpoint: string;
  const sockets = new Set<Socket>();
  let tlsServer: HttpsServer;
  let tlsEndpoint: string;

  beforeAll(async () => {
    // Accepts connections and never answers: the deadline, not the SDK's timeouts, must end the call.
    silentServer = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    silentServer.listen(0, '127.0.0.1');
    await once(silentServer, 'listening');
    silentEndpoint = `http://127.0.0.1:${(silentServer.address() as { port: number }).port}`;

    // A real TLS server with a self-signed certificate the delegate has no reason to trust.
    const keyPath = join(dir, 'tls.key');
    const certPath = join(dir, 'tls.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    tlsServer = createHttpsServer({ key: await readFile(keyPath), cert: await readFile(certPath) }, (_req, res) => res.end());
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    tlsEndpoint = `https://127.0.0.1:${(tlsServer.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    silentServer?.close();
    tlsServer?.close();
  });

  it('reports the deadline as TIMEOUT', async () => {
    const started = Date.now();
    const f = await fail({ endpoints: { sts: silentEndpoint, ec2: silentEndpoint }, auth: { kind: { case: 'static', value: staticAuth(ids.validUser) } } }, [ids.validUser.secretAccessKey], { deadlineMs: 800 });
    expect(f.code).toBe('TIMEOUT');
    expect(f.details).toMatchObject({ step: 'sts:GetCallerIdentity', endpoint: silentEndpoint });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('reports a runtime deadline abort as TIMEOUT', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(Object.assign(new Error('deadline'), { name: 'TimeoutError' })), 300);
    const f = await fail({ endpoints: { sts: silentEndpoint, ec2: silentEndpoint }, auth: { kind: { case: 'static', value: staticAuth(ids.validUser) } } }, [], { signal: controller.signal });
    expect(f.code).toBe('TIMEOUT');
  });

  it('reports a cancel as CANCELLED', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(Object.assign(new Error('cancelled'), { name: 'AbortError' })), 300);
    const f = await fail({ endpoints: { sts: silentEndpoint, ec2: silentEndpoint }, auth: { kind: { case: 'static', value: staticAuth(ids.validUser) } } }, [], { signal: controller.signal });
    expect(f.code).toBe('CANCELLED');
    expect(f.details).toMatchObject({ step: 'sts:GetCallerIdentity' });
  });

  it('reports an untrusted certificate as TLS_UNTRUSTED', async () => {
    const f = await fail({ endpoints: { sts: tlsEndpoint, ec2: tlsEndpoint }, auth: { kind: { case: 'static', value: staticAuth(ids.validUser) } } }, [ids.validUser.secretAccessKey]);
    expect(f.code).toBe('TLS_UNTRUSTED');
    expect(f.message).toContain(tlsEndpoint);
    expect(f.details).toMatchObject({ errorCode: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
  });
});

async function closedPort(): Promise<number> {
  const server = createTcpServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

describe('aws.validate under the delegate policy', () => {
  /** A listener on another loopback address: it must never see a connection. */
  let recorder: Server;
  let recorderUrl: string;
  let connections = 0;
  let redirector: Server;
  let redirectorUrl: string;
  let portal: HttpsServer;
  let portalUrl: string;
  let portalCa: string;
  let portalKeyFile: string;

  beforeAll(async () => {
    recorder = createTcpServer((socket) => {
      connections++;
      socket.destroy();
    });
    recorder.listen(0, '127.0.0.2');
    await once(recorder, 'listening');
    recorderUrl = `http://127.0.0.2:${(recorder.address() as { port: number }).port}`;

    // An allowed endpoint that sends every request on to the recorder.
    const { createServer } = await import('node:http');
    redirector = createServer((_req, res) => res.writeHead(302, { location: `${recorderUrl}/` }).end()) as unknown as Server;
    redirector.listen(0, '127.0.0.1');
    await once(redirector, 'listening');
    redirectorUrl = `http://127.0.0.1:${(redirector.address() as { port: number }).port}`;

    // An allowed SCAP portal over TLS that does the same.
    portalKeyFile = join(dir, 'portal.key');
    const certPath = join(dir, 'portal.crt');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', portalKeyFile, '-out', certPath, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
    portalCa = await readFile(certPath, 'utf8');
    portal = createHttpsServer({ key: await readFile(portalKeyFile), cert: portalCa }, (_req, res) => res.writeHead(302, { location: `${recorderUrl}/` }).end());
    portal.listen(0, '127.0.0.1');
    await once(portal, 'listening');
    portalUrl = `https://127.0.0.1:${(portal.address() as { port: number }).port}`;
  });

  afterAll(() => {
    recorder?.close();
    redirector?.close();
    portal?.close();
  });

  it('refuses an endpoint override outside ATTACHE_ALLOW_ENDPOINTS without connecting anywhere', async () => {
    const before = connections;
    for (const endpoints of [{ sts: recorderUrl }, { sts: moto.endpoint, ec2: recorderUrl }]) {
      const f = await fail({ partition: 'aws', endpoints, auth: { kind: { case: 'static', value: staticAuth(ids.validUser) } } }, [ids.validUser.secretAccessKey], {
        allowEndpoints: [moto.endpoint],
      });
      expect(f.code).toBe('ENDPOINT_NOT_ALLOWED');
      expect(f.details).toEqual({ endpoint: recorderUrl, setting: 'ATTACHE_ALLOW_ENDPOINTS', field: endpoints.ec2 ? 'endpoints.ec2' : 'endpoints.sts' });
      expect(f.message).toContain(recorderUrl);
    }
    // IRSA's STS call and AssumeRole use the same override.
    const irsa = await fail({ partition: 'aws', endpoints: { sts: recorderUrl }, auth: { kind: { case: 'irsa', value: { roleArn: ids.role.roleArn } } } }, [], { allowEndpoints: [] });
    expect(irsa.code).toBe('ENDPOINT_NOT_ALLOWED');
    expect(connections).toBe(before);
  });

  it('refuses a portal that is not listed, and does not follow a listed portal that redirects', async () => {
    const before = connections;
    const scap = (url: string): PayloadInit => ({
      partition: 'aws-iso-b',
      caBundle: portalCa,
      auth: { kind: { case: 'scap', value: { portalUrl: `${url}/sc2s`, agencyName: 'A', accountName: 'B', roleName: 'R', userCertificate: portalCa, userKeyRef: `file:${portalKeyFile}` } } },
    });
    const unlisted = await fail(scap(portalUrl), [], { allowEndpoints: [] });
    expect(unlisted.code).toBe('ENDPOINT_NOT_ALLOWED');
    expect(unlisted.details).toMatchObject({ field: 'portalUrl', endpoint: `${portalUrl}/sc2s` });
    const redirected = await fail(scap(portalUrl), [], { allowEndpoints: [portalUrl] });
    expect(redirected.code).toBe('SCAP_DENIED');
    expect(redirected.details).toMatchObject({ httpStatusCode: 302 });
    expect(connections).toBe(before);
  });

  it('does not follow an allowed AWS endpoint that redirects', async () => {
    const before = connections;
    const f = await fail({ partition: 'aws', endpoints: { sts: redirectorUrl, ec2: redirectorUrl }, auth: { kind: { case: 'static', value: staticAuth(ids.validUser) } } }, [ids.validUser.secretAccessKey]);
    expect(f.code).not.toBe('SUCCESS');
    expect(f.details).toMatchObject({ step: 'sts:GetCallerIdentity' });
    expect(connections).toBe(before);
  });

  it('refuses a signing secret routed into the access key id, before any connection', async () => {
    const before = connections;
    const secretVar = setEnv('VT_ROUTED_SECRET', ids.validUser.secretAccessKey);
    const f = await fail(
      { partition: 'aws', endpoints: { sts: recorderUrl }, auth: { kind: { case: 'static', value: { accessKeyIdRef: `env:${secretVar}`, secretAccessKeyRef: `env:${secretVar}` } } } },
      [ids.validUser.secretAccessKey],
      { allowEndpoints: [recorderUrl] },
    );
    expect(f.code).toBe('SECRET_NOT_ALLOWED');
    expect(f.details).toMatchObject({ reference: `env:${secretVar}`, setting: 'ATTACHE_ALLOW_REFS', reason: 'field-not-allowed' });
    expect(connections).toBe(before);
  });
});
