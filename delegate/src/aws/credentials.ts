import { fromHttp, fromNodeProviderChain } from '@aws-sdk/credential-providers';
import type { aws } from '@attache/proto';
import { TaskFailure } from '../executors/task-failure.js';
import type { PermittedUrl } from '../policy/endpoint-policy.js';
import { resolveSecretRef, type RegisterSecret } from '../secrets/resolve.js';
import type { Partition } from './partitions.js';
import { scapCredentials } from './scap.js';
import { webIdentityCredentials } from './web-identity.js';

/** Resolved AWS credentials; structurally the SDK's `AwsCredentialIdentity`. */
export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  readonly expiration?: Date;
}

/** Where base credentials came from; error messages tell the operator what to fix by this. */
export type CredentialSource = BaseAuthKind['case'];

export interface BaseCredentials {
  readonly source: CredentialSource;
  readonly credentials: AwsCredentials;
}

/** What the base types that call a service (IRSA's STS, SCAP's portal) need to reach it. */
export interface BaseCredentialContext {
  readonly partition: Partition;
  readonly region: string;
  readonly stsEndpoint?: PermittedUrl | undefined;
  /** The SCAP/CAP portal, checked against the endpoint policy. */
  readonly portalUrl?: PermittedUrl | undefined;
  readonly caBundle?: string | undefined;
  readonly sessionName: string;
  readonly onRequest?: ((url: string) => void) | undefined;
}

/**
 * Base credentials for an account: `static` resolves the secret references on this delegate;
 * `delegate` (and an absent source) uses the delegate's own chain; `irsa` exchanges the pod's
 * web identity token; `podIdentity` asks the container credentials endpoint; `scap` asks the
 * access portal over mutual TLS. `context` is required for irsa and scap.
 */
export async function resolveBaseCredentials(
  auth: BaseAuthKind,
  registerSecret: RegisterSecret,
  signal: AbortSignal,
  context?: BaseCredentialContext,
): Promise<BaseCredentials> {
  switch (auth.case) {
    case 'delegate':
      return { source: 'delegate', credentials: await delegateChainCredentials(registerSecret, signal) };
    case 'static':
      return { source: 'static', credentials: await staticCredentials(auth.value, registerSecret) };
    case 'podIdentity':
      return { source: 'podIdentity', credentials: await podIdentityCredentials(registerSecret, signal) };
    case 'irsa':
    case 'scap': {
      if (context === undefined) throw new Error(`${auth.case} credentials need the account's region and endpoints`);
      const credentials =
        auth.case === 'irsa'
          ? await webIdentityCredentials(auth.value, { region: context.region, stsEndpoint: context.stsEndpoint, caBundle: context.caBundle, sessionName: context.sessionName, signal, onRequest: context.onRequest }, registerSecret)
          : await scapCredentials(auth.value, { partition: context.partition, portalUrl: context.portalUrl, caBundle: context.caBundle, signal }, registerSecret);
      return { source: auth.case, credentials };
    }
  }
}

/** The base cases shared by the `AwsAuth` and `BaseAuth` oneofs. */
export type BaseAuthKind =
  | { readonly case: 'static'; readonly value: aws.StaticAuth }
  | { readonly case: 'delegate' }
  | { readonly case: 'irsa'; readonly value: aws.IrsaAuth }
  | { readonly case: 'podIdentity' }
  | { readonly case: 'scap'; readonly value: aws.ScapAuth };

/**
 * EKS Pod Identity (and ECS task roles): the container credentials endpoint named by
 * AWS_CONTAINER_CREDENTIALS_FULL_URI, authorised by AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE.
 * Only this source, unlike the chain: an account that says podIdentity must not quietly
 * validate environment keys instead.
 */
export async function podIdentityCredentials(registerSecret: RegisterSecret, signal: AbortSignal): Promise<AwsCredentials> {
  const uri = process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI ?? '';
  if (uri === '') {
    throw new TaskFailure(
      'NO_CREDENTIALS',
      'The account uses Pod Identity, but AWS_CONTAINER_CREDENTIALS_FULL_URI is not set on the delegate; associate the delegate\'s service account with a role (EKS Pod Identity Agent) or choose another auth type.',
      { step: 'credentials' },
    );
  }
  let credentials: AwsCredentials;
  try {
    credentials = await abortable(fromHttp({ timeout: 2_000, maxRetries: 1 })(), signal);
  } catch (error) {
    if (signal.aborted) throw error;
    throw new TaskFailure('NO_CREDENTIALS', `The container credentials endpoint ${uri} gave no credentials: ${(error as Error).message}`, { step: 'credentials', endpoint: uri }, { cause: error });
  }
  registerSecret(credentials.secretAccessKey);
  if (credentials.sessionToken !== undefined) registerSecret(credentials.sessionToken);
  return credentials;
}

/** Long-lived (or pre-issued temporary) keys behind secret references. */
export async function staticCredentials(auth: aws.StaticAuth, registerSecret: RegisterSecret): Promise<AwsCredentials> {
  const accessKeyId = await resolveSecretRef(auth.accessKeyIdRef, registerSecret, 'accessKeyId');
  const secretAccessKey = await resolveSecretRef(auth.secretAccessKeyRef, registerSecret, 'secretAccessKey');
  if (auth.sessionTokenRef === '') return { accessKeyId, secretAccessKey };
  const sessionToken = await resolveSecretRef(auth.sessionTokenRef, registerSecret, 'sessionToken');
  return { accessKeyId, secretAccessKey, sessionToken };
}

/**
 * The SDK's default chain (environment, shared config and SSO, web identity, ECS/EKS container
 * credentials, EC2 instance profile with IMDSv2), resolved now so that a missing identity fails
 * in the credentials step rather than inside the first AWS call. A fresh chain per task: a
 * memoised one would keep serving rotated-away keys.
 */
export async function delegateChainCredentials(registerSecret: RegisterSecret, signal: AbortSignal): Promise<AwsCredentials> {
  // Short IMDS/container timeouts: a delegate off EC2 should fail in seconds, not after the SDK's retries.
  const provider = fromNodeProviderChain({ timeout: 2_000, maxRetries: 1 });
  const credentials = await abortable(provider(), signal);
  registerSecret(credentials.secretAccessKey);
  if (credentials.sessionToken !== undefined) registerSecret(credentials.sessionToken);
  return credentials;
}

/** The SDK's credential providers take no AbortSignal; stop waiting for them when the task ends. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
