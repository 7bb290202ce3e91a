import { create } from '@bufbuild/protobuf';
import { ListPoliciesCommand, type ListPoliciesCommandInput, type PolicyScopeType } from '@aws-sdk/client-iam';
import { aws } from '@attache/proto';
import type { Logger } from 'pino';
import { TaskFailure } from '../executors/task-failure.js';
import type { RegisterSecret } from '../secrets/resolve.js';
import type { EndpointPolicy } from '../policy/endpoint-policy.js';
import { accountCredentials } from './account-credentials.js';
import { accountEndpoints } from './account-endpoints.js';
import { createIamClient } from './clients.js';
import type { AwsCredentials } from './credentials.js';
import { toTaskFailure, type ValidationStep } from './error-map.js';
import { baseAuthOf, describeCredentials, parsePartition, testRegion } from './validate.js';

export interface ListPoliciesOptions {
  readonly taskId: string;
  readonly deadline: Date;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** The delegate's endpoint policy: every address the account names is checked before any connection. */
  readonly endpoints: EndpointPolicy;
  readonly registerSecret: RegisterSecret;
}

/**
 * A bound on pages, so that an endpoint that always answers `IsTruncated` with the same marker
 * cannot keep a task busy until its deadline. At IAM's default 100 per page this is 50 000
 * policies, far more than any account holds (AWS manages about 1 300).
 */
const MAX_PAGES = 500;

const SCOPES: Record<aws.PolicyScope, PolicyScopeType> = {
  [aws.PolicyScope.UNSPECIFIED]: 'All',
  [aws.PolicyScope.ALL]: 'All',
  [aws.PolicyScope.AWS]: 'AWS',
  [aws.PolicyScope.LOCAL]: 'Local',
};

/**
 * iam:ListPolicies with the account's credentials (the same base credentials and role assumption
 * as a validation), following `Marker` until IAM says the listing is complete. Failures are
 * `TaskFailure`s with the validation's codes; a caller without iam:ListPolicies gets
 * MISSING_PERMISSION naming that action.
 */
export async function listPolicies(payload: aws.ListPoliciesPayload, options: ListPoliciesOptions): Promise<aws.ListPoliciesResult> {
  const account = payload.account;
  if (!account) throw new TaskFailure('INVALID_PAYLOAD', 'The aws.listPolicies payload names no account.');
  const partition = parsePartition(account.partition);
  const region = testRegion(account.testRegion, partition);
  const auth = account.auth?.kind;
  if (auth === undefined || auth.case === undefined) {
    throw new TaskFailure('INVALID_PAYLOAD', "The account has no authentication configured; set static keys, the delegate's own credentials, or a role to assume.");
  }
  const endpoints = accountEndpoints(account.endpoints, baseAuthOf(auth), partition, options.endpoints, ['sts', 'iam']);
  // The account's trust store applies to every AWS call of the account, listing included.
  const caBundle = account.caBundle || undefined;
  // Same reasoning as validation: hold the deadline even if only `deadline` were set.
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(Math.max(0, options.deadline.getTime() - Date.now()))]);

  let endpoint: string | undefined;
  let credentialsDescription: string | undefined;
  const roleArn = auth.case === 'assumeRole' ? auth.value.roleArn : undefined;
  const onRequest = (url: string) => {
    endpoint = url;
  };
  async function step<T>(name: ValidationStep, run: () => Promise<T>): Promise<T> {
    endpoint = name === 'iam:ListPolicies' ? endpoints.iam : name === 'credentials' ? undefined : endpoints.sts;
    try {
      signal.throwIfAborted();
      return await run();
    } catch (error) {
      // Without sts:GetCallerIdentity (not needed here) the caller is known only when it is a role.
      throw toTaskFailure(error, { step: name, signal, endpoint, credentialsDescription, roleArn, principalArn: roleArn, region });
    }
  }

  const baseKind = baseAuthOf(auth);
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
    baseStep: 'credentials',
  });
  const credentials: AwsCredentials = obtained.credentials;
  credentialsDescription = obtained.description;

  const iam = createIamClient({ region, credentials, endpoint: endpoints.iam, caBundle, onRequest });
  try {
    const input: ListPoliciesCommandInput = {
      Scope: SCOPES[payload.scope],
      ...(payload.pathPrefix !== '' ? { PathPrefix: payload.pathPrefix } : {}),
    };
    const policies: aws.Policy[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      if (pages >= MAX_PAGES) {
        throw new TaskFailure(
          'AWS_ERROR',
          `iam:ListPolicies was still not complete after ${MAX_PAGES} pages${endpoint ? ` at ${endpoint}` : ''}; narrow the listing with a scope or path prefix, or check the IAM endpoint.`,
          { step: 'iam:ListPolicies', pages },
        );
      }
      const page = await step('iam:ListPolicies', () => iam.send(new ListPoliciesCommand({ ...input, ...(marker ? { Marker: marker } : {}) }), { abortSignal: signal }));
      pages++;
      for (const p of page.Policies ?? []) {
        if (!p.Arn) continue;
        policies.push(
          create(aws.PolicySchema, {
            arn: p.Arn,
            name: p.PolicyName ?? '',
            path: p.Path ?? '/',
            defaultVersionId: p.DefaultVersionId ?? '',
            attachmentCount: p.AttachmentCount ?? 0,
            isAttachable: p.IsAttachable ?? false,
            policyId: p.PolicyId ?? '',
            ...(p.Description ? { description: p.Description } : {}),
          }),
        );
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    options.log.info({ policies: policies.length, pages, scope: input.Scope }, 'aws.listPolicies succeeded');
    return create(aws.ListPoliciesResultSchema, { policies, pages });
  } finally {
    iam.destroy();
  }
}
