import type { aws } from '@attache/proto';
import { TaskFailure } from '../executors/task-failure.js';
import type { PermittedUrl } from '../policy/endpoint-policy.js';
import type { RegisterSecret } from '../secrets/resolve.js';
import { assumeRole, defaultSessionName } from './assume-role.js';
import { resolveBaseCredentials, type AwsCredentials, type BaseAuthKind } from './credentials.js';
import type { ValidationStep } from './error-map.js';
import type { Partition } from './partitions.js';

/** Runs one named step; the caller's wrapper times it and maps its errors. */
export type StepRunner = <T>(name: ValidationStep, run: () => Promise<T>) => Promise<T>;

export interface AccountCredentialsContext {
  readonly taskId: string;
  readonly partition: Partition;
  readonly region: string;
  readonly stsEndpoint: PermittedUrl | undefined;
  readonly portalUrl: PermittedUrl | undefined;
  readonly caBundle: string | undefined;
  readonly signal: AbortSignal;
  readonly registerSecret: RegisterSecret;
  readonly onRequest: (url: string) => void;
  readonly step: StepRunner;
  /** Name of the step that obtains the base credentials. */
  readonly baseStep: ValidationStep;
  /** Told the base credentials before any role is assumed (validation probes other partitions with them). */
  readonly onBase?: (credentials: AwsCredentials) => void;
}

export interface AccountCredentials {
  readonly credentials: AwsCredentials;
  /** For messages: whose credentials these are, never their values. */
  readonly description: string;
}

/**
 * The credentials an account's AWS calls use, the same for every task type: base credentials of
 * the account's auth type, then sts:AssumeRole (with the external ID) when the account assumes a
 * role. Each part is its own step, so failures name where they happened.
 */
export async function accountCredentials(
  auth: Exclude<aws.AwsAuth['kind'], { case: undefined }>,
  baseKind: BaseAuthKind,
  describeBase: string,
  ctx: AccountCredentialsContext,
): Promise<AccountCredentials> {
  const base = await ctx.step(ctx.baseStep, () =>
    resolveBaseCredentials(baseKind, ctx.registerSecret, ctx.signal, {
      partition: ctx.partition,
      region: ctx.region,
      stsEndpoint: ctx.stsEndpoint,
      portalUrl: ctx.portalUrl,
      caBundle: ctx.caBundle,
      sessionName: (baseKind.case === 'irsa' && baseKind.value.sessionName) || defaultSessionName(ctx.taskId),
      onRequest: ctx.onRequest,
    }),
  );
  ctx.onBase?.(base.credentials);
  if (auth.case !== 'assumeRole') return { credentials: base.credentials, description: describeBase };
  const role = auth.value;
  if (role.roleArn === '') throw new TaskFailure('INVALID_PAYLOAD', 'The account is set to assume a role but names no role ARN.');
  const assumed = await ctx.step('sts:AssumeRole', () =>
    assumeRole(
      {
        roleArn: role.roleArn,
        externalId: role.externalId,
        sessionName: role.sessionName || defaultSessionName(ctx.taskId),
        durationSeconds: role.durationSeconds,
        base: base.credentials,
        region: ctx.region,
        stsEndpoint: ctx.stsEndpoint,
        caBundle: ctx.caBundle,
        signal: ctx.signal,
        onRequest: ctx.onRequest,
      },
      ctx.registerSecret,
    ),
  );
  return { credentials: assumed.credentials, description: `the temporary credentials of ${role.roleArn}` };
}
