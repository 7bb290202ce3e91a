import { AssumeRoleCommand } from '@aws-sdk/client-sts';
import type { PermittedUrl } from '../policy/endpoint-policy.js';
import type { RegisterSecret } from '../secrets/resolve.js';
import { createStsClient } from './clients.js';
import type { AwsCredentials } from './credentials.js';

export interface AssumeRoleParams {
  readonly roleArn: string;
  /** The tenant's external ID (or the account's override); empty sends none. */
  readonly externalId: string;
  readonly sessionName: string;
  /** 0 leaves the duration to AWS (one hour). */
  readonly durationSeconds: number;
  readonly base: AwsCredentials;
  readonly region: string;
  readonly stsEndpoint?: PermittedUrl | undefined;
  readonly caBundle?: string | undefined;
  readonly signal: AbortSignal;
  readonly onRequest?: ((url: string) => void) | undefined;
}

export interface AssumedRole {
  readonly credentials: AwsCredentials;
  readonly assumedRoleArn: string;
}

/**
 * Calls sts:AssumeRole with the base credentials. The temporary keys are registered for masking
 * as soon as they exist: they are as sensitive as the keys that obtained them.
 */
export async function assumeRole(params: AssumeRoleParams, registerSecret: RegisterSecret): Promise<AssumedRole> {
  const sts = createStsClient({ region: params.region, credentials: params.base, endpoint: params.stsEndpoint, caBundle: params.caBundle, onRequest: params.onRequest });
  try {
    const response = await sts.send(
      new AssumeRoleCommand({
        RoleArn: params.roleArn,
        RoleSessionName: params.sessionName,
        ...(params.externalId !== '' ? { ExternalId: params.externalId } : {}),
        ...(params.durationSeconds > 0 ? { DurationSeconds: params.durationSeconds } : {}),
      }),
      { abortSignal: params.signal },
    );
    const issued = response.Credentials;
    if (!issued?.AccessKeyId || !issued.SecretAccessKey || !issued.SessionToken) {
      throw new Error('sts:AssumeRole answered without credentials');
    }
    registerSecret(issued.SecretAccessKey);
    registerSecret(issued.SessionToken);
    return {
      credentials: {
        accessKeyId: issued.AccessKeyId,
        secretAccessKey: issued.SecretAccessKey,
        sessionToken: issued.SessionToken,
        ...(issued.Expiration ? { expiration: issued.Expiration } : {}),
      },
      assumedRoleArn: response.AssumedRoleUser?.Arn ?? '',
    };
  } finally {
    sts.destroy();
  }
}

/**
 * `attache-<first 8 characters of the task id>`: short enough for the 64-character limit, and
 * CloudTrail entries lead back to the task. Characters STS rejects are dropped.
 */
export function defaultSessionName(taskId: string): string {
  const short = taskId.replace(/[^\w+=,.@-]/g, '').slice(0, 8);
  return short === '' ? 'attache' : `attache-${short}`;
}
