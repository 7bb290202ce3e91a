import { create } from '@bufbuild/protobuf';
import { DescribeRegionsCommand } from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { aws } from '@attache/proto';
import type { Logger } from 'pino';
import { TaskFailure } from '../executors/task-failure.js';
import type { RegisterSecret } from '../secrets/resolve.js';
import type { EndpointPolicy } from '../policy/endpoint-policy.js';
import { accountCredentials } from './account-credentials.js';
import { accountEndpoints } from './account-endpoints.js';
import { createEc2Client, createStsClient } from './clients.js';
import { resolveBaseCredentials, type AwsCredentials, type BaseAuthKind } from './credentials.js';
import { toTaskFailure, type ValidationStep } from './error-map.js';
import { probeOtherPartitions } from './partition-probe.js';
import { webIdentityRoleArn } from './web-identity.js';
import { defaultTestRegion, isPartition, partitionOfArn, partitionOfRegion, type Partition } from './partitions.js';

export interface ValidateOptions {
  readonly taskId: string;
  readonly deadline: Date;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** The delegate's endpoint policy: every address the account names is checked before any connection. */
  readonly endpoints: EndpointPolicy;
  readonly registerSecret: RegisterSecret;
}

/**
 * Proves that an account's credentials work: base credentials, AssumeRole when configured,
 * sts:GetCallerIdentity (who, and in which partition), ec2:DescribeRegions in the test region.
 * Every failure is a `TaskFailure` with a stable code.
 */
export async function validateAccount(payload: aws.ValidateAccountPayload, options: ValidateOptions): Promise<aws.ValidateAccountResult> {
  const partition = parsePartition(payload.partition);
  const region = testRegion(payload.testRegion, partition);
  const auth = payload.auth?.kind;
  if (auth === undefined || auth.case === undefined) {
    throw new TaskFailure('INVALID_PAYLOAD', 'The account has no authentication configured; set static keys, the delegate\'s own credentials, or a role to assume.');
  }
  const endpoints = accountEndpoints(payload.endpoints, baseAuthOf(auth), partition, options.endpoints, ['sts', 'ec2']);
  const caBundle = payload.caBundle || undefined;

  // The runtime aborts `signal` at the deadline too; a timer of our own makes the deadline hold
  // even for a caller that only sets `deadline`. Its reason is a TimeoutError, like the runtime's.
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(Math.max(0, options.deadline.getTime() - Date.now()))]);

  const steps: aws.Step[] = [];
  let endpoint: string | undefined;
  let credentialsDescription: string | undefined;
  let principalArn: string | undefined;
  const baseKind = baseAuthOf(auth);
  // The role failures name: the web identity role while IRSA credentials are obtained, then the role assumed on top.
  const roleArn = baseKind.case === 'irsa' ? webIdentityRoleArn(baseKind.value) : auth.case === 'assumeRole' ? auth.value.roleArn : undefined;
  const onRequest = (url: string) => {
    endpoint = url;
  };

  /** Credentials a step signs with; when AWS rejects them as unknown, other partitions are asked. */
  let signingCredentials: AwsCredentials | undefined;

  async function step<T>(name: ValidationStep, run: () => Promise<T>): Promise<T> {
    endpoint = name === 'ec2:DescribeRegions' ? endpoints.ec2 : name === 'credentials' || name === 'scap:GetTemporaryCredentials' ? undefined : endpoints.sts;
    const started = performance.now();
    try {
      signal.throwIfAborted();
      const value = await run();
      const durationMs = Math.round(performance.now() - started);
      steps.push(create(aws.StepSchema, { name, durationMs }));
      options.log.debug({ step: name, durationMs }, 'aws.validate step done');
      return value;
    } catch (error) {
      const failure = toTaskFailure(error, { step: name, signal, endpoint, credentialsDescription, roleArn, principalArn, region, caBundle: caBundle !== undefined });
      if (failure.code === 'INVALID_CREDENTIALS' && signingCredentials !== undefined && (name === 'sts:AssumeRole' || name === 'sts:GetCallerIdentity')) {
        const hit = await probeOtherPartitions(signingCredentials, { partition, caBundle, signal });
        if (hit !== undefined) {
          throw new TaskFailure(
            'PARTITION_MISMATCH',
            `AWS rejected ${credentialsDescription ?? 'the credentials'} in ${region} (${String(failure.details.awsErrorCode ?? 'unknown key')}), but partition ${hit.partition} accepts them as ${hit.arn}: choose partition ${hit.partition} for this account, or use credentials from ${partition}.`,
            { ...failure.details, expectedPartition: partition, actualPartition: hit.partition, arn: hit.arn, probedRegion: hit.region },
            { cause: failure },
          );
        }
      }
      throw failure;
    }
  }

  credentialsDescription = describeCredentials(baseKind);
  const obtained = await accountCredentials(auth, baseKind, credentialsDescription, {
    taskId: options.taskId,
    partition,
    region,
    stsEndpoint: endpoints.sts,
    portalUrl: endpoints.portal,
    caBundle,
    signal,
    registerSecret: options.registerSecret,
    onRequest,
    step,
    baseStep: baseStep(baseKind),
    onBase: (base) => {
      signingCredentials = base;
    },
  });
  const credentials: AwsCredentials = obtained.credentials;
  signingCredentials = credentials;
  credentialsDescription =
    auth.case !== 'assumeRole' && baseKind.case === 'irsa' ? `the temporary credentials of ${roleArn ?? 'the web identity role'}` : obtained.description;

  const sts = createStsClient({ region, credentials, endpoint: endpoints.sts, caBundle, onRequest });
  const ec2 = createEc2Client({ region, credentials, endpoint: endpoints.ec2, caBundle, onRequest });
  try {
    const identity = await step('sts:GetCallerIdentity', async () => {
      const answer = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
      if (!answer.Arn || !answer.Account) throw new Error('sts:GetCallerIdentity answered without an ARN or account');
      return { arn: answer.Arn, account: answer.Account, userId: answer.UserId ?? '' };
    });
    principalArn = identity.arn;

    const arnPartition = partitionOfArn(identity.arn);
    if (arnPartition !== partition) {
      throw new TaskFailure(
        'PARTITION_MISMATCH',
        `The credentials belong to partition ${arnPartition ?? 'unknown'} (${identity.arn}) but the account is configured for ${partition}; fix the account's partition or use credentials from ${partition}.`,
        { step: 'sts:GetCallerIdentity', arn: identity.arn, expectedPartition: partition, actualPartition: arnPartition ?? '' },
      );
    }

    const regions = await step('ec2:DescribeRegions', async () => {
      const answer = await ec2.send(new DescribeRegionsCommand({}), { abortSignal: signal });
      return (answer.Regions ?? []).flatMap((r) => (r.RegionName ? [r.RegionName] : [])).sort();
    });

    options.log.info({ accountId: identity.account, arn: identity.arn, region, steps: steps.map((s) => `${s.name}=${s.durationMs}ms`) }, 'aws.validate succeeded');
    return create(aws.ValidateAccountResultSchema, {
      accountId: identity.account,
      arn: identity.arn,
      userId: identity.userId,
      partition: arnPartition,
      region,
      regions,
      steps,
    });
  } finally {
    sts.destroy();
    ec2.destroy();
  }
}

export function parsePartition(value: string): Partition {
  // proto3 cannot tell "unset" from "": an account without a partition is a standard one.
  const partition = value === '' ? 'aws' : value;
  if (!isPartition(partition)) {
    throw new TaskFailure('INVALID_PAYLOAD', `Unknown AWS partition "${value}"; use aws, aws-us-gov, aws-iso or aws-iso-b.`, { partition: value });
  }
  return partition;
}

export function testRegion(requested: string, partition: Partition): string {
  if (requested === '') return defaultTestRegion(partition);
  const regionPartition = partitionOfRegion(requested);
  if (regionPartition !== partition) {
    throw new TaskFailure(
      'INVALID_PAYLOAD',
      `The test region ${requested} is not in partition ${partition}; choose a region of that partition or leave it empty for ${defaultTestRegion(partition)}.`,
      { testRegion: requested, partition },
    );
  }
  return requested;
}

/** The credentials to start from: the account's own, or those that call AssumeRole (default: the delegate's chain). */
export function baseAuthOf(auth: Exclude<aws.AwsAuth['kind'], { case: undefined }>): BaseAuthKind {
  switch (auth.case) {
    case 'static':
    case 'irsa':
    case 'scap':
      return auth;
    case 'delegate':
    case 'podIdentity':
      return { case: auth.case };
    case 'assumeRole': {
      const source = auth.value.source?.kind;
      if (source === undefined || source.case === undefined) return { case: 'delegate' };
      return source.case === 'delegate' || source.case === 'podIdentity' ? { case: source.case } : source;
    }
  }
}

/** The step that obtains base credentials, named by the call it makes so its failures say where. */
function baseStep(kind: BaseAuthKind): ValidationStep {
  if (kind.case === 'irsa') return 'sts:AssumeRoleWithWebIdentity';
  if (kind.case === 'scap') return 'scap:GetTemporaryCredentials';
  return 'credentials';
}

export function describeCredentials(kind: BaseAuthKind): string {
  switch (kind.case) {
    case 'delegate':
      return "the delegate's own credentials";
    case 'podIdentity':
      return "the delegate's Pod Identity credentials";
    case 'irsa':
      return "the delegate's web identity (IRSA) token";
    case 'scap':
      return `the SCAP portal's temporary credentials for role ${kind.value.roleName}`;
    case 'static':
      return `the static keys behind ${kind.value.accessKeyIdRef} and ${kind.value.secretAccessKeyRef}`;
  }
}
