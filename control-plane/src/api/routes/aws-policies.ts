import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PARTITION_NAMES, type Partition } from '../../aws/partitions.js';
import { MAX_POLICY_ARNS, POLICY_SCOPES, type PolicyScope, type PolicyService } from '../../aws/policy-service.js';
import { roleSetup } from '../../aws/role-setup.js';
import { validationRoleTemplate } from '../../aws/validation-role-template.js';
import { AppError, ErrorCode } from '../../errors.js';
import type { Store } from '../../store/store.js';
import { requireTenant } from '../auth.js';
import { taskFailureBodySchema } from '../openapi/error-body.js';
import { defineOperations } from '../openapi/operation.js';
import { decodeCursor, encodeCursor, MAX_PAGE_SIZE, nextCursorSchema, pageQueryShape } from '../pagination.js';
import { parseInput } from '../parse.js';
import { gatewayQuery, tagListQuery } from '../routing-query.js';
import { taskViewOf } from '../task-views.js';
import { accountView, accountViewSchema, taskViewSchema } from '../views.js';

export const idParam = z.object({ id: z.string().min(1).max(64) });

export const availableQuery = z
  .object({
    waitSeconds: z.coerce.number().min(0).max(60).default(0),
    scope: z.enum(Object.keys(POLICY_SCOPES) as [PolicyScope, ...PolicyScope[]]).default('All'),
    pathPrefix: z.string().regex(/^\/([\x21-\x7e]*\/)?$/, 'a path prefix starts and ends with "/", e.g. /attache/').max(512).optional(),
    nameContains: z.string().min(1).max(128).optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).optional().meta({ description: `Policies per page, 1-${MAX_PAGE_SIZE}; absent: the whole listing in one answer.` }),
    cursor: pageQueryShape.cursor.meta({ description: "The `nextCursor` of the previous page: the next page of that same listing, read from its task (no new listing runs; pass the same `nameContains`)." }),
  })
  .strict();
export const chooseBody = z.object({ policyArns: z.array(z.string().max(2048)).max(MAX_POLICY_ARNS) }).strict();
export const roleSetupQuery = z
  .object({
    selectors: tagListQuery.optional().meta({ description: 'Comma-separated tags of the delegates that will assume the role.' }),
    gateway: gatewayQuery.optional(),
    partition: z.enum(PARTITION_NAMES as [Partition, ...Partition[]]).default('aws'),
    // cloudformation: the role as a template (YAML) with this tenant's values as parameter defaults.
    format: z.enum(['json', 'cloudformation']).default('json'),
  })
  .strict();

/** Status for a listing the delegate could not do: the control plane's own codes keep their status. */
const FAILED_STATUS: Record<string, number> = {
  [ErrorCode.NO_ELIGIBLE_DELEGATE]: 409,
  [ErrorCode.TIMEOUT]: 504,
  [ErrorCode.DELEGATE_LOST]: 502,
  [ErrorCode.CANCELLED]: 409,
};
/** AWS refused or failed on the customer side: the request was fine, what it depends on was not. */
const FAILED_DEPENDENCY = 424;

const POLICIES_LIST = 'available-policies';

function listingGone(accountId: string): AppError {
  const message = `cursor names no finished policy listing of account ${accountId} (listings are tasks, deleted after ATTACHE_TASK_RETENTION_DAYS); list again without cursor`;
  return new AppError(ErrorCode.VALIDATION_FAILED, `Invalid query: ${message}.`, { issues: [{ path: 'cursor', message }] });
}

export function awsPolicyRoutes(app: FastifyInstance, deps: { policies: PolicyService; store: Store; retentionSeconds: number }): void {
  app.get('/v1/aws/accounts/:id/available-policies', async (request, reply) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    const query = parseInput(availableQuery, request.query, 'query');
    // A page cursor names the listing's task and the last policy given: later pages read that task again.
    const after = decodeCursor(POLICIES_LIST, query.cursor);
    const listed = after ? await deps.policies.earlierListing(tenant.id, id, after.id, query.nameContains) : await deps.policies.available(tenant.id, id, query, request.actor);
    if (!listed) throw listingGone(id);
    switch (listed.state) {
      case 'pending':
        return reply.code(202).send({ task: await taskViewOf(deps.store, listed.task) });
      case 'failed': {
        const error = listed.task.error ?? { code: ErrorCode.INTERNAL, message: 'The listing ended without a result.', details: {} };
        return reply
          .code(FAILED_STATUS[error.code] ?? FAILED_DEPENDENCY)
          .send({ error: { ...error, details: { ...error.details, taskId: listed.task.id } } });
      }
      case 'listed': {
        const start = after ? listed.policies.findIndex((p) => p.arn === after.key) + 1 : 0;
        if (after && start === 0) throw listingGone(id);
        const end = query.limit === undefined ? listed.policies.length : start + query.limit;
        const policies = listed.policies.slice(start, end);
        const last = policies[policies.length - 1];
        return {
          accountId: id,
          taskId: listed.task.id,
          scope: listed.scope,
          count: policies.length,
          total: listed.total,
          pages: listed.pages,
          policies,
          nextCursor: end < listed.policies.length && last ? encodeCursor(POLICIES_LIST, { key: last.arn, id: listed.task.id }) : null,
        };
      }
    }
  });

  app.put('/v1/aws/accounts/:id/policies', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    const { policyArns } = parseInput(chooseBody, request.body, 'policy choice');
    return accountView(await deps.policies.choose(tenant.id, id, policyArns));
  });

  app.get('/v1/aws/role-setup', async (request, reply) => {
    const tenant = requireTenant(request);
    const query = parseInput(roleSetupQuery, request.query, 'query');
    const since = new Date(Date.now() - deps.retentionSeconds * 1000);
    const setup = await roleSetup(deps.store, tenant, { partition: query.partition, selectors: query.selectors ?? [], gateway: query.gateway }, since);
    if (query.format === 'json') return setup;
    // With no reported identity the principal parameter has no default: the admin fills it in.
    const template = validationRoleTemplate({ externalId: setup.externalId, trustedPrincipalArns: setup.trustedPrincipalArns });
    return reply
      .header('content-type', 'application/yaml; charset=utf-8')
      .header('content-disposition', 'inline; filename="attache-validation-role.yaml"')
      .send(template);
  });
}

export const availablePoliciesSchema = z.object({
  accountId: z.string(),
  taskId: z.string().meta({ description: 'The aws.listPolicies task that listed them.' }),
  scope: z.enum(Object.keys(POLICY_SCOPES) as [PolicyScope, ...PolicyScope[]]),
  count: z.number().int().meta({ description: 'Policies in this answer (this page, with `limit`).' }),
  total: z.number().int().meta({ description: 'Policies in the whole listing, before `nameContains`.' }),
  pages: z.number().int().meta({ description: 'iam:ListPolicies pages the delegate read.' }),
  policies: z.array(
    z.object({
      arn: z.string(),
      name: z.string(),
      path: z.string(),
      defaultVersionId: z.string(),
      attachmentCount: z.number().int(),
      isAttachable: z.boolean(),
      description: z.string().optional(),
    }),
  ),
  nextCursor: nextCursorSchema,
});

const policyDocument = z.object({ Version: z.string(), Statement: z.array(z.record(z.string(), z.unknown())) });
export const roleSetupSchema = z.object({
  externalId: z.string(),
  partition: z.enum(PARTITION_NAMES as [Partition, ...Partition[]]),
  selectors: z.array(z.string()),
  delegateGroups: z.array(z.object({ group: z.string(), identityArn: z.string().nullable(), reportedAt: z.iso.datetime().nullable() })),
  principalIsPlaceholder: z.boolean(),
  trustedPrincipalArns: z.array(z.string()).meta({ description: 'The identities the chosen delegates reported; empty when the trust policy has the placeholder.' }),
  placeholderHelp: z.string().optional(),
  trustPolicy: policyDocument,
  permissionPolicy: policyDocument,
  notes: z.array(z.string()),
});

const listingFailed = { description: 'The listing task failed; the error is its own (a delegate code such as MISSING_PERMISSION).', schema: taskFailureBodySchema };

export const awsPolicyOperations = defineOperations([
  {
    method: 'GET', path: '/v1/aws/accounts/:id/available-policies', operationId: 'listAvailablePolicies', tag: 'aws',
    summary: "IAM policies the account's credentials can see, listed by a delegate.", params: idParam, query: availableQuery,
    description:
      'Each call without `cursor` runs a new listing (an aws.listPolicies task). With `limit` the answer is one page and `nextCursor` leads to the next page of the same listing, read again from its task; `scope` and `pathPrefix` are then the listing\'s own. Without `limit` the whole listing comes at once and `nextCursor` is null.',
    responses: {
      200: { description: 'The policies.', schema: availablePoliciesSchema },
      202: { description: 'The listing is still running; ask again with the same query.', schema: z.object({ task: taskViewSchema }) },
      409: { description: 'No eligible delegate, or the listing was cancelled.', schema: taskFailureBodySchema },
      424: listingFailed,
      502: { description: 'The delegate was lost during the listing (DELEGATE_LOST).', schema: taskFailureBodySchema },
      504: { description: 'The listing timed out (TIMEOUT).', schema: taskFailureBodySchema },
    },
    errors: [404],
  },
  {
    method: 'PUT', path: '/v1/aws/accounts/:id/policies', operationId: 'chooseAwsAccountPolicies', tag: 'aws',
    summary: 'Choose the IAM policies for the account (replaces the choice).', params: idParam, body: chooseBody,
    responses: { 200: { description: 'The account with its policies.', schema: accountViewSchema } }, errors: [404],
  },
  {
    method: 'GET', path: '/v1/aws/role-setup', operationId: 'getRoleSetup', tag: 'aws',
    summary: 'The trust and permission policies of a role for Attaché to assume.', query: roleSetupQuery,
    responses: {
      200: {
        description: 'The role setup; with `format=cloudformation`, the role as a CloudFormation template (YAML) with this tenant’s values as parameter defaults.',
        schema: roleSetupSchema,
        alternatives: { 'application/yaml': z.string() },
      },
    },
  },
]);
