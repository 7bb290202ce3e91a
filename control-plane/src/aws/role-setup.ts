import type { Store, Tenant } from '../store/store.js';
import { carriesSelectors, routeSelectors } from '../tasks/eligibility.js';
import { trustPrincipal } from './delegate-identities.js';
import type { Partition } from './partitions.js';

export interface RoleSetupQuery {
  partition: Partition;
  selectors: string[];
  gateway?: string | undefined;
}

/** The actions validation and policy listing call with an account's (possibly assumed) credentials. */
export const REQUIRED_ACTIONS = ['sts:GetCallerIdentity', 'ec2:DescribeRegions', 'iam:ListPolicies'] as const;

/** The role's permission policy, as role setup returns it and as the CloudFormation template attaches it. */
export const PERMISSION_POLICY = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'AttacheValidationAndPolicyListing', Effect: 'Allow', Action: [...REQUIRED_ACTIONS], Resource: '*' }],
} as const;

/**
 * What a tenant needs to create a role for Attaché in their account: the trust policy (which
 * principal may assume it, only with the tenant's external ID) and the permission policy. The
 * principal is the identity the chosen delegate groups reported; when none has reported one, a
 * placeholder the reader cannot mistake for a real ARN, flagged `principalIsPlaceholder`.
 */
export async function roleSetup(store: Store, tenant: Tenant, query: RoleSetupQuery, recentSince: Date) {
  const selectors = routeSelectors(query.selectors, query.gateway);
  const delegates = await store.listDelegates(tenant.id, recentSince);
  const groups = new Set(delegates.filter((d) => carriesSelectors(d.tags, selectors)).map((d) => d.name));
  // A gateway's identity may be known from earlier even while none of its replicas is connected.
  if (query.gateway) groups.add(query.gateway);
  const identities = (await store.listDelegateIdentities(tenant.id)).filter((i) => i.partition === query.partition && groups.has(i.group));
  const principals = [...new Set(identities.map((i) => trustPrincipal(i.arn)))].sort();
  const placeholder = `arn:${query.partition}:iam::<DELEGATE_ACCOUNT_ID>:role/<DELEGATE_ROLE_NAME>`;
  const principalIsPlaceholder = principals.length === 0;

  return {
    externalId: tenant.externalId,
    partition: query.partition,
    selectors,
    delegateGroups: [...groups].sort().map((group) => {
      const identity = identities.find((i) => i.group === group);
      return { group, identityArn: identity?.arn ?? null, reportedAt: identity?.reportedAt.toISOString() ?? null };
    }),
    principalIsPlaceholder,
    /** The reported identities the trust policy names; empty while it names the placeholder. */
    trustedPrincipalArns: principals,
    ...(principalIsPlaceholder
      ? {
          placeholderHelp:
            "No chosen delegate group has reported its IAM identity yet. Validate an account with auth type \"delegate\" on those delegates (or replace the placeholder with the ARN of the role or user they run as).",
        }
      : {}),
    trustPolicy: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: principalIsPlaceholder ? placeholder : principals.length === 1 ? principals[0] : principals },
          Action: 'sts:AssumeRole',
          Condition: { StringEquals: { 'sts:ExternalId': tenant.externalId } },
        },
      ],
    },
    permissionPolicy: PERMISSION_POLICY,
    notes: [
      'Attach permissionPolicy to the role; set trustPolicy as its trust relationship (assume-role policy).',
      "The delegates' own identity needs sts:AssumeRole on the role's ARN in an identity policy of its own.",
      'Without iam:ListPolicies the account still validates; only listing available policies fails (MISSING_PERMISSION).',
    ],
  };
}
