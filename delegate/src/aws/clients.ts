import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { STSClient } from '@aws-sdk/client-sts';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { PermittedUrl } from '../policy/endpoint-policy.js';
import type { AwsCredentials } from './credentials.js';
import { createHttpsAgent } from './https-agent.js';

/**
 * Validation is interactive: someone waits for the answer. One retry absorbs a dropped
 * connection; more would only hide a broken endpoint behind the SDK's backoff.
 */
const MAX_ATTEMPTS = 2;
/** TCP/TLS connect; a reachable AWS endpoint (or VPC endpoint) answers well within this. */
const CONNECTION_TIMEOUT_MS = 5_000;
/** Whole request/response, so a server that accepts and never answers fails as TIMEOUT. */
const REQUEST_TIMEOUT_MS = 20_000;

export interface AwsClientOptions {
  readonly region: string;
  /** Absent only for unsigned calls (sts:AssumeRoleWithWebIdentity). */
  readonly credentials?: AwsCredentials | undefined;
  /** The account's PEM trust store; absent means Node's roots. */
  readonly caBundle?: string | undefined;
  /** Trust Node's roots besides the bundle (probing other partitions). */
  readonly withSystemRoots?: boolean | undefined;
  /** Overrides MAX_ATTEMPTS (probes try once). */
  readonly maxAttempts?: number | undefined;
  /**
   * Per-account endpoint override (VPC endpoint, emulator), let through by the delegate's endpoint
   * policy. Absent: the SDK's own resolution, which honours `AWS_ENDPOINT_URL` /
   * `AWS_ENDPOINT_URL_<SERVICE>` on the delegate. The SDK follows no redirect, so a request goes to
   * this origin and nowhere else.
   */
  readonly endpoint?: PermittedUrl | undefined;
  /** Called with the URL of every request sent, so failures can name the endpoint actually used. */
  readonly onRequest?: ((url: string) => void) | undefined;
}

export function createStsClient(options: AwsClientOptions): STSClient {
  const client = new STSClient(clientConfig(options));
  if (options.onRequest) client.middlewareStack.add(endpointRecorder(options.onRequest), RECORD_ENDPOINT);
  return client;
}

export function createEc2Client(options: AwsClientOptions): EC2Client {
  const client = new EC2Client(clientConfig(options));
  if (options.onRequest) client.middlewareStack.add(endpointRecorder(options.onRequest), RECORD_ENDPOINT);
  return client;
}

export function createIamClient(options: AwsClientOptions): IAMClient {
  const client = new IAMClient(clientConfig(options));
  if (options.onRequest) client.middlewareStack.add(endpointRecorder(options.onRequest), RECORD_ENDPOINT);
  return client;
}

function clientConfig(options: AwsClientOptions) {
  return {
    region: options.region,
    ...(options.credentials ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? MAX_ATTEMPTS,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
      // Plain-HTTP endpoints (emulators, some VPC setups) keep the SDK's agent; HTTPS gets trust and proxy.
      httpsAgent: createHttpsAgent({ caBundle: options.caBundle, withSystemRoots: options.withSystemRoots ?? false }),
    }),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  };
}

const RECORD_ENDPOINT = { step: 'finalizeRequest', name: 'attacheRecordEndpoint' } as const;

/** The endpoint is known only after resolution, so read it off the request about to be signed and sent. */
function endpointRecorder(onRequest: (url: string) => void) {
  return <Args extends { request: unknown }, Output>(next: (args: Args) => Promise<Output>) =>
    async (args: Args): Promise<Output> => {
      const request = args.request as { protocol?: string; hostname?: string; port?: number } | undefined;
      if (request?.hostname) onRequest(`${request.protocol ?? 'https:'}//${request.hostname}${request.port ? `:${request.port}` : ''}`);
      return next(args);
    };
}
