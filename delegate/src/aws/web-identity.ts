import { readFile } from 'node:fs/promises';
import { AssumeRoleWithWebIdentityCommand } from '@aws-sdk/client-sts';
import type { aws } from '@attache/proto';
import { TaskFailure } from '../executors/task-failure.js';
import type { PermittedUrl } from '../policy/endpoint-policy.js';
import type { RegisterSecret } from '../secrets/resolve.js';
import { createStsClient } from './clients.js';
import type { AwsCredentials } from './credentials.js';

export interface WebIdentityContext {
  readonly region: string;
  readonly stsEndpoint?: PermittedUrl | undefined;
  readonly caBundle?: string | undefined;
  readonly sessionName: string;
  readonly signal: AbortSignal;
  readonly onRequest?: ((url: string) => void) | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

/** The role an IRSA account assumes: its own roleArn, else the one EKS injected into the pod. */
export function webIdentityRoleArn(auth: aws.IrsaAuth, env: NodeJS.ProcessEnv = process.env): string {
  return auth.roleArn || env.AWS_ROLE_ARN || '';
}

/**
 * IRSA: sts:AssumeRoleWithWebIdentity with the projected service-account token. Called on our own
 * STS client rather than the SDK's token-file provider, so the account's endpoint override, CA
 * bundle and proxy apply and the failure names this step. The token is read on every use: the
 * kubelet rotates it.
 */
export async function webIdentityCredentials(auth: aws.IrsaAuth, ctx: WebIdentityContext, registerSecret: RegisterSecret): Promise<AwsCredentials> {
  const env = ctx.env ?? process.env;
  const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE ?? '';
  if (tokenFile === '') {
    throw new TaskFailure(
      'NO_CREDENTIALS',
      'The account uses IRSA, but AWS_WEB_IDENTITY_TOKEN_FILE is not set on the delegate; run the delegate under a Kubernetes service account annotated with eks.amazonaws.com/role-arn.',
      { step: 'sts:AssumeRoleWithWebIdentity' },
    );
  }
  const roleArn = webIdentityRoleArn(auth, env);
  if (roleArn === '') {
    throw new TaskFailure('NO_CREDENTIALS', "The account uses IRSA without a roleArn, and the delegate's pod has no AWS_ROLE_ARN; set the account's roleArn or annotate the service account.", {
      step: 'sts:AssumeRoleWithWebIdentity',
    });
  }
  let token: string;
  try {
    token = (await readFile(tokenFile, 'utf8')).trim();
  } catch (error) {
    throw new TaskFailure('NO_CREDENTIALS', `The delegate cannot read its web identity token file ${tokenFile} (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the projected volume.`, { step: 'sts:AssumeRoleWithWebIdentity', tokenFile }, { cause: error });
  }
  // A service-account token is a bearer credential for the role.
  registerSecret(token);

  const sts = createStsClient({ region: ctx.region, endpoint: ctx.stsEndpoint, caBundle: ctx.caBundle, onRequest: ctx.onRequest });
  try {
    const answer = await sts.send(new AssumeRoleWithWebIdentityCommand({ RoleArn: roleArn, RoleSessionName: ctx.sessionName, WebIdentityToken: token }), { abortSignal: ctx.signal });
    const issued = answer.Credentials;
    if (!issued?.AccessKeyId || !issued.SecretAccessKey || !issued.SessionToken) throw new Error('sts:AssumeRoleWithWebIdentity answered without credentials');
    registerSecret(issued.SecretAccessKey);
    registerSecret(issued.SessionToken);
    return { accessKeyId: issued.AccessKeyId, secretAccessKey: issued.SecretAccessKey, sessionToken: issued.SessionToken, ...(issued.Expiration ? { expiration: issued.Expiration } : {}) };
  } finally {
    sts.destroy();
  }
}
