import type { ActorRecord } from '../store/audit-records.js';
import { AppError, ErrorCode, notFound } from '../errors.js';
import { isTerminal, type AwsAccountRecord, type Store, type TaskRecord } from '../store/store.js';
import type { TaskService } from '../tasks/task-service.js';
import type { AccountService } from './account-service.js';
import { accountSelectors } from './routing.js';
import { validationPayload } from './validation-payload.js';

/** `scope` as the API spells it (IAM's own words) → the protobuf enum's JSON name. */
export const POLICY_SCOPES = { All: 'POLICY_SCOPE_ALL', AWS: 'POLICY_SCOPE_AWS', Local: 'POLICY_SCOPE_LOCAL' } as const;
export type PolicyScope = keyof typeof POLICY_SCOPES;

export interface AvailablePoliciesQuery {
  scope: PolicyScope;
  pathPrefix?: string | undefined;
  /** Case-insensitive substring of the policy name; applied here, IAM has no such filter. */
  nameContains?: string | undefined;
  waitSeconds: number;
}

export interface AvailablePolicy {
  arn: string;
  name: string;
  path: string;
  defaultVersionId: string;
  attachmentCount: number;
  isAttachable: boolean;
  description?: string;
}

export type AvailablePolicies =
  | { state: 'listed'; task: TaskRecord; scope: PolicyScope; policies: AvailablePolicy[]; total: number; pages: number }
  | { state: 'pending'; task: TaskRecord }
  | { state: 'failed'; task: TaskRecord };

/**
 * A policy ARN: AWS managed (`arn:aws:iam::aws:policy/...`) or customer managed in a 12-digit
 * account, with an optional path. Names and paths use IAM's character set.
 */
const POLICY_ARN = /^arn:(aws|aws-us-gov|aws-iso|aws-iso-b):iam::(aws|\d{12}):policy\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,128}$/;
export const MAX_POLICY_ARNS = 100;

/**
 * "Add IAM Policies": lists the policies an account's credentials can see (an aws.listPolicies
 * task routed exactly like the account's validation) and records the ones the tenant chose.
 */
export class PolicyService {
  constructor(
    private readonly store: Store,
    private readonly tasks: TaskService,
    private readonly accounts: AccountService,
  ) {}

  async available(tenantId: string, id: string, query: AvailablePoliciesQuery, requestedBy?: ActorRecord): Promise<AvailablePolicies> {
    const account = await this.accounts.get(tenantId, id);
    // Listing before a successful validation would only repeat the validation's errors less clearly.
    if (account.status !== 'valid') {
      throw new AppError(
        ErrorCode.CONFLICT,
        `The account's credentials have not been validated (status ${account.status}); validate it first (POST /v1/aws/accounts/${id}/validate), then list its policies.`,
        { status: account.status },
      );
    }
    const tenant = await this.store.getTenant(tenantId);
    if (!tenant) throw notFound('tenant', tenantId);
    const created = await this.tasks.create(
      tenantId,
      {
        type: 'aws.listPolicies',
        payload: {
          account: validationPayload(account, tenant.externalId),
          scope: POLICY_SCOPES[query.scope],
          ...(query.pathPrefix ? { pathPrefix: query.pathPrefix } : {}),
        },
        selectors: accountSelectors(account),
        accountId: account.id,
      },
      { internal: true, requestedBy },
    );
    const task = await this.tasks.getAfterWait(tenantId, created.id, query.waitSeconds);
    if (!isTerminal(task.state)) return { state: 'pending', task };
    if (task.state !== 'succeeded') return { state: 'failed', task };
    return listedBy(task, query.nameContains);
  }

  /**
   * The listing an earlier call made (the task a page cursor names), read again rather than run
   * again: the pages of one listing come from one task. Undefined when that task is not a finished
   * listing of this account (another account's, or deleted by task retention).
   */
  async earlierListing(tenantId: string, id: string, taskId: string, nameContains: string | undefined): Promise<Extract<AvailablePolicies, { state: 'listed' }> | undefined> {
    await this.accounts.get(tenantId, id);
    const task = await this.store.getTask(tenantId, taskId);
    if (!task || task.type !== 'aws.listPolicies' || task.accountId !== id || task.state !== 'succeeded') return undefined;
    return listedBy(task, nameContains);
  }

  /** Records the chosen policies after checking each ARN's form, partition and (when known) account. */
  async choose(tenantId: string, id: string, policyArns: readonly string[]): Promise<AwsAccountRecord> {
    const account = await this.accounts.get(tenantId, id);
    const unique = [...new Set(policyArns)];
    const problems = unique.flatMap((arn) => {
      const problem = policyArnProblem(arn, account);
      return problem ? [{ path: 'policyArns', arn, message: problem }] : [];
    });
    if (problems.length > 0) {
      throw new AppError(ErrorCode.VALIDATION_FAILED, problems.map((p) => `${p.arn}: ${p.message}`).join('; '), { issues: problems });
    }
    const updated = await this.store.updateAccount(tenantId, id, { policyArns: unique }, new Date());
    if (!updated) throw notFound('AWS account', id);
    return updated;
  }
}

function policyArnProblem(arn: string, account: AwsAccountRecord): string | null {
  const match = POLICY_ARN.exec(arn);
  if (!match) return 'is not an IAM policy ARN; expected arn:<partition>:iam::aws:policy/<name> or arn:<partition>:iam::<12-digit account>:policy/<path/><name>';
  const [, partition, owner] = match;
  if (partition !== account.partition) return `is in partition ${partition}, but the account is in ${account.partition}; policies cannot be attached across partitions`;
  // A customer managed policy can be attached only inside its own account.
  if (owner !== 'aws' && account.awsAccountId && owner !== account.awsAccountId) {
    return `belongs to AWS account ${owner}, but the account's credentials are in ${account.awsAccountId}`;
  }
  return null;
}

function listedBy(task: TaskRecord, nameContains: string | undefined): Extract<AvailablePolicies, { state: 'listed' }> {
  const all = policiesOf(task);
  const needle = nameContains?.toLowerCase();
  const policies = needle ? all.filter((p) => p.name.toLowerCase().includes(needle)) : all;
  const asked = (task.payload['scope'] ?? POLICY_SCOPES.All) as string;
  const scope = (Object.keys(POLICY_SCOPES) as PolicyScope[]).find((k) => POLICY_SCOPES[k] === asked) ?? 'All';
  return { state: 'listed', task, scope, policies, total: all.length, pages: Number(task.result?.['pages'] ?? 0) };
}

/** The task result's policies with protobuf's omitted defaults filled back in. */
function policiesOf(task: TaskRecord): AvailablePolicy[] {
  const raw = (task.result?.['policies'] ?? []) as Array<Record<string, unknown>>;
  return raw.map((p) => ({
    arn: String(p['arn'] ?? ''),
    name: String(p['name'] ?? ''),
    path: String(p['path'] ?? '/'),
    defaultVersionId: String(p['defaultVersionId'] ?? ''),
    attachmentCount: Number(p['attachmentCount'] ?? 0),
    isAttachable: p['isAttachable'] === true,
    ...(typeof p['description'] === 'string' ? { description: p['description'] } : {}),
  }));
}
