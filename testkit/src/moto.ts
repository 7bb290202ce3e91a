/**
 * A real `moto_server` for tests: started on a free 127.0.0.1 port, provisioned with IAM users,
 * keys, policies and a role through the AWS SDK, then switched to enforced authentication so that
 * signatures, unknown keys, IAM permissions and role trust policies (with `sts:ExternalId`) are
 * checked the way AWS checks them.
 *
 * Typical use:
 *
 *   const moto = await startMoto();
 *   const ids = await setupAwsIdentities(moto.endpoint);
 *   await moto.enforceAuth();
 *   ...
 *   await moto.stop();
 *
 * or `startMotoWithIdentities()` for all three steps at once.
 */
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { freePort } from './ports.js';
import { Proc } from './process.js';

export interface MotoServer {
  /** `http://127.0.0.1:PORT`: pass it as an endpoint override or as `AWS_ENDPOINT_URL`. */
  readonly endpoint: string;
  readonly port: number;
  /** Turns on authentication and authorisation for every following request. */
  enforceAuth(): Promise<void>;
  /** SIGTERM, then SIGKILL if the server has not exited after a grace period. Idempotent. */
  stop(): Promise<void>;
}

export interface StartMotoOptions {
  /** Executable to run; default `moto_server` from PATH. */
  readonly command?: string;
  /** How long to wait for the server to answer HTTP; default 30 s (a cold Python start is slow on CI). */
  readonly startTimeoutMs?: number;
  /** Extra environment for the server process. */
  readonly env?: Record<string, string>;
  /** Serve HTTPS with this certificate (`-c`/`-k`); `caPem` is what the launcher trusts to talk to it. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string; readonly caPem: string };
}

export interface MotoUserKeys {
  readonly userName: string;
  readonly arn: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface MotoIdentities {
  readonly accountId: string;
  /** Partition of the IAM world these identities live in (moto keeps one per partition). */
  readonly partition: string;
  /** Region whose partition was provisioned; sign with a region of the same partition. */
  readonly region: string;
  /** May call sts:GetCallerIdentity and ec2:DescribeRegions. */
  readonly validUser: MotoUserKeys;
  /** May call sts:GetCallerIdentity only: ec2:DescribeRegions is denied. */
  readonly userWithoutDescribeRegions: MotoUserKeys;
  /** A role with ec2:DescribeRegions that trusts `roleSourceUser` when `externalId` is given. */
  readonly role: {
    readonly roleName: string;
    readonly roleArn: string;
    readonly externalId: string;
  };
  /** May call sts:AssumeRole on `role` and nothing else. */
  readonly roleSourceUser: MotoUserKeys;
}

export interface SetupOptions {
  /** Signing region; chooses moto's IAM world (`us-gov-west-1` → aws-us-gov). Default us-east-1. */
  readonly region?: string;
  /** Prefix for every created name, so two setups in one partition do not collide. Default `attache`. */
  readonly namePrefix?: string;
  /** External ID the role's trust policy requires. Default `attache-test-external-id`. */
  readonly externalId?: string;
  /** PEM CA to trust when `endpoint` is an HTTPS moto with a private certificate. */
  readonly caPem?: string;
}

const STOP_GRACE_MS = 5_000;
const START_ATTEMPTS = 3;

/** Starts moto_server on a free port and resolves once it answers HTTP. */
export async function startMoto(options: StartMotoOptions = {}): Promise<MotoServer> {
  let lastError: unknown;
  // Another process can take the port between probing and binding; a fresh port fixes that.
  for (let attempt = 0; attempt < START_ATTEMPTS; attempt++) {
    const port = await freePort();
    try {
      return await launch(port, options);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error(`moto_server did not start after ${START_ATTEMPTS} attempts`, { cause: lastError });
}

/** Starts moto, provisions the standard identities in the `aws` partition, then enforces auth. */
export async function startMotoWithIdentities(
  options: StartMotoOptions & SetupOptions = {},
): Promise<{ moto: MotoServer; identities: MotoIdentities }> {
  const moto = await startMoto(options);
  try {
    const identities = await setupAwsIdentities(moto.endpoint, options);
    await moto.enforceAuth();
    return { moto, identities };
  } catch (error) {
    await moto.stop();
    throw error;
  }
}

/**
 * `POST /moto-api/reset-auth` with the number of requests still allowed unauthenticated; `0`
 * enforces from now on. Exported for callers that manage a server they did not start here.
 */
export async function enforceMotoAuth(endpoint: string, unauthenticatedRequests = 0, caPem?: string): Promise<void> {
  if (caPem !== undefined) {
    const status = await httpsStatus(`${endpoint}/moto-api/reset-auth`, caPem, 'POST', String(unauthenticatedRequests));
    if (status !== 200) throw new Error(`moto reset-auth answered HTTP ${status}`);
    return;
  }
  const response = await fetch(`${endpoint}/moto-api/reset-auth`, {
    method: 'POST',
    body: String(unauthenticatedRequests),
  });
  if (!response.ok) throw new Error(`moto reset-auth answered HTTP ${response.status}`);
  await response.body?.cancel();
}

/** fetch() cannot be given a CA, so an HTTPS moto with a private certificate is asked through node:https. */
function httpsStatus(url: string, caPem: string, method = 'GET', body?: string, timeoutMs = 1_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { method, ca: caPem, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Creates the users, keys, policies and role of `MotoIdentities`. Must run before `enforceAuth`:
 * until then moto accepts any signature, so the placeholder admin keys below are enough.
 */
export async function setupAwsIdentities(endpoint: string, options: SetupOptions = {}): Promise<MotoIdentities> {
  const region = options.region ?? 'us-east-1';
  const prefix = options.namePrefix ?? 'attache';
  const externalId = options.externalId ?? 'attache-test-external-id';
  const iam = new IAMClient({
    region,
    endpoint,
    credentials: { accessKeyId: 'AKIASETUPONLY0000000', secretAccessKey: 'setup-only' },
    ...(options.caPem ? { requestHandler: { httpsAgent: new HttpsAgent({ ca: options.caPem }) } } : {}),
  });
  try {
    const validUser = await createUserWithPolicy(iam, `${prefix}-valid`, {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['sts:GetCallerIdentity', 'ec2:DescribeRegions'], Resource: '*' }],
    });
    const userWithoutDescribeRegions = await createUserWithPolicy(iam, `${prefix}-no-describe-regions`, {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['sts:GetCallerIdentity'], Resource: '*' }],
    });

    const accountId = arnAccount(validUser.arn);
    const partition = arnPartition(validUser.arn);
    const roleName = `${prefix}-validation-role`;
    const roleArn = `arn:${partition}:iam::${accountId}:role/${roleName}`;

    const roleSourceUser = await createUserWithPolicy(iam, `${prefix}-role-source`, {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArn }],
    });

    // moto matches trust-policy principals literally, so name the exact user ARN (not the account root).
    await iam.send(
      new CreateRoleCommand({
        RoleName: roleName,
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: roleSourceUser.arn },
              Action: 'sts:AssumeRole',
              Condition: { StringEquals: { 'sts:ExternalId': externalId } },
            },
          ],
        }),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: roleName,
        PolicyName: `${prefix}-describe-regions`,
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['ec2:DescribeRegions'], Resource: '*' }],
        }),
      }),
    );

    return {
      accountId,
      partition,
      region,
      validUser,
      userWithoutDescribeRegions,
      role: { roleName, roleArn, externalId },
      roleSourceUser,
    };
  } finally {
    iam.destroy();
  }
}

async function createUserWithPolicy(iam: IAMClient, userName: string, policy: object): Promise<MotoUserKeys> {
  const user = await iam.send(new CreateUserCommand({ UserName: userName }));
  const created = await iam.send(
    new CreatePolicyCommand({ PolicyName: `${userName}-policy`, PolicyDocument: JSON.stringify(policy) }),
  );
  await iam.send(new AttachUserPolicyCommand({ UserName: userName, PolicyArn: required(created.Policy?.Arn, 'policy ARN') }));
  const key = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
  return {
    userName,
    arn: required(user.User?.Arn, 'user ARN'),
    accessKeyId: required(key.AccessKey?.AccessKeyId, 'access key ID'),
    secretAccessKey: required(key.AccessKey?.SecretAccessKey, 'secret access key'),
  };
}

async function launch(port: number, options: StartMotoOptions): Promise<MotoServer> {
  const endpoint = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const tlsArgs = options.tls ? ['-c', options.tls.certFile, '-k', options.tls.keyFile] : [];
  const proc = Proc.start(`moto_server:${port}`, options.command ?? 'moto_server', ['-H', '127.0.0.1', '-p', String(port), ...tlsArgs], {
    env: { ...process.env, ...options.env },
  });
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= proc.stop(STOP_GRACE_MS));
  try {
    await Promise.race([
      waitUntilAnswering(endpoint, options.startTimeoutMs ?? 30_000, options.tls?.caPem),
      proc.exited.then(({ code, signal }) => {
        // The tail of its output is the only explanation when the server dies during start.
        const why = proc.spawnError ? `could not run moto_server: ${proc.spawnError.message}` : `moto_server exited during start (code ${code}, signal ${signal})`;
        throw new Error(`${why}: ${proc.lines.slice(-15).join('\n')}`, { cause: proc.spawnError });
      }),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, port, enforceAuth: () => enforceMotoAuth(endpoint, 0, options.tls?.caPem), stop };
}

async function waitUntilAnswering(endpoint: string, timeoutMs: number, caPem?: string): Promise<void> {
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (caPem !== undefined) {
        await httpsStatus(`${endpoint}/moto-api/data.json`, caPem);
        return;
      }
      const response = await fetch(`${endpoint}/moto-api/data.json`, { signal: AbortSignal.timeout(1_000) });
      await response.body?.cancel();
      return;
    } catch {
      if (Date.now() > giveUpAt) throw new Error(`moto_server at ${endpoint} did not answer within ${timeoutMs} ms`);
      await sleep(100);
    }
  }
}

function arnPartition(arn: string): string {
  return required(arn.split(':')[1], `partition in ${arn}`);
}

function arnAccount(arn: string): string {
  return required(arn.split(':')[4], `account in ${arn}`);
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined || value === '') throw new Error(`moto returned no ${what}`);
  return value;
}
