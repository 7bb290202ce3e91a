import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { DelegateRelease } from '../../delegates/delegate-release.js';
import { HELLO_LIMITS } from '../../delegates/hello.js';
import type { DelegateTokenService } from '../../delegates/token-service.js';
import { GROUP_NAME, GROUP_NAME_RULE, routeSelectors, TAG, TAG_RULE, TASK_TYPE, TASK_TYPE_RULE } from '../../tasks/eligibility.js';
import type { DelegateExplainer } from '../../tasks/explainer.js';
import { KEY_TAG_PREFIX } from '../../security/sealed-refs.js';
import type { Presence } from '../../delegates/presence.js';
import { requireTenant } from '../auth.js';
import { defineOperations } from '../openapi/operation.js';
import { decodeCursor, decodeTimeCursor, nextCursorSchema, pageOf, pageQuery } from '../pagination.js';
import { parseInput } from '../parse.js';
import { gatewayQuery, tagListQuery } from '../routing-query.js';
import { delegateView, delegateViewSchema, tokenView, tokenViewSchema } from '../views.js';

export const createToken = z
  .object({
    name: z.string().trim().min(1).max(128),
    /** Binds the token to one delegate group: its delegates must register under this name. */
    group: z.string().regex(GROUP_NAME, `a delegate group name is ${GROUP_NAME_RULE}`).optional(),
    /** Binds the token to these tags: its delegates may declare no others. */
    tags: z
      .array(
        z
          .string()
          .regex(TAG, `a tag is ${TAG_RULE}`)
          // Key tags come from proven keys, never from a declaration, so allowing one would mean nothing.
          .refine((t) => !t.startsWith(KEY_TAG_PREFIX), `${KEY_TAG_PREFIX} tags come from the keys a delegate proves it holds and cannot be bound`),
      )
      .max(HELLO_LIMITS.maxTags)
      .optional(),
  })
  .strict();
export const idParam = z.object({ id: z.string().min(1).max(64) });
/** A placement to check before any task exists: the wizard's "Delegates" step. */
export const eligibilityQuery = z
  .object({
    taskType: z.string().regex(TASK_TYPE, `a task type is ${TASK_TYPE_RULE}`).default('aws.validate'),
    tags: tagListQuery.optional().meta({ description: 'Comma-separated tags every delegate must carry (an account\'s delegateSelectors).' }),
    gateway: gatewayQuery.optional().meta({ description: 'The delegate group the work is pinned to (an account\'s gateway).' }),
  })
  .strict();
const TOKENS_LIST = 'delegate-tokens';
const DELEGATES_LIST = 'delegates';

export function delegateRoutes(
  app: FastifyInstance,
  deps: { tokens: DelegateTokenService; presence: Pick<Presence, 'list'>; explainer: Pick<DelegateExplainer, 'assess'>; release: DelegateRelease; retentionSeconds: number },
): void {
  app.post('/v1/delegate-tokens', { config: { noStore: true } }, async (request, reply) => {
    const tenant = requireTenant(request);
    const body = parseInput(createToken, request.body, 'delegate token');
    const { record, token } = await deps.tokens.create(tenant.id, body.name, { group: body.group, tags: body.tags });
    return reply.code(201).send({ ...tokenView(record), token });
  });

  app.get('/v1/delegate-tokens', async (request) => {
    const tenant = requireTenant(request);
    const q = parseInput(pageQuery, request.query, 'query');
    const rows = await deps.tokens.list(tenant.id, { limit: q.limit + 1, after: decodeTimeCursor(TOKENS_LIST, q.cursor) });
    const page = pageOf(TOKENS_LIST, rows, q.limit, (t) => ({ key: t.createdAt.toISOString(), id: t.id }));
    return { items: page.items.map(tokenView), nextCursor: page.nextCursor };
  });

  app.post('/v1/delegate-tokens/:id/revoke', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    return tokenView(await deps.tokens.revoke(tenant.id, id));
  });

  // The dispatcher's rule over the same presence: what a task with this placement would find now.
  app.get('/v1/delegates/eligibility', async (request) => {
    const tenant = requireTenant(request);
    const q = parseInput(eligibilityQuery, request.query, 'query');
    const selectors = routeSelectors(q.tags ?? [], q.gateway);
    const assessed = await deps.explainer.assess(tenant.id, { type: q.taskType, selectors });
    const delegates = assessed
      .map((a) => ({ id: a.delegateId, name: a.name, eligible: a.reasons.length === 0, reasons: a.reasons }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
    return { taskType: q.taskType, selectors, eligible: delegates.filter((d) => d.eligible).length, delegates };
  });

  app.get('/v1/delegates', async (request) => {
    const tenant = requireTenant(request);
    const q = parseInput(pageQuery, request.query, 'query');
    const since = new Date(Date.now() - deps.retentionSeconds * 1000);
    const rows = await deps.presence.list(tenant.id, since, { limit: q.limit + 1, after: decodeCursor(DELEGATES_LIST, q.cursor) });
    const page = pageOf(DELEGATES_LIST, rows, q.limit, ({ row }) => ({ key: row.name, id: row.id }));
    return {
      nextCursor: page.nextCursor,
      items: page.items.map(({ row, presence }) => delegateView(row, deps.release, presence)),
    };
  });
}

export const createdTokenSchema = tokenViewSchema.extend({ token: z.string().meta({ description: 'The delegate token itself: shown once, stored hashed.' }) });

export const eligibilitySchema = z
  .object({
    taskType: z.string(),
    selectors: z.array(z.string()).meta({ description: 'The selectors a task with this placement runs with: the tags and the gateway.' }),
    eligible: z.number().int().meta({ description: 'How many connected delegates could take such a task now.' }),
    delegates: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        eligible: z.boolean(),
        reasons: z.array(z.string()).meta({ description: 'Why it cannot take the task now (missing tags, task type not supported, draining, full); empty when eligible.' }),
      }),
    ),
  })
  .meta({ id: 'DelegateEligibility' });

export const delegateOperations = defineOperations([
  {
    method: 'POST', path: '/v1/delegate-tokens', operationId: 'createDelegateToken', tag: 'delegates',
    summary: 'Issue a delegate token (shown once).', body: createToken,
    responses: { 201: { description: 'The token record and the token.', schema: createdTokenSchema } },
  },
  {
    method: 'GET', path: '/v1/delegate-tokens', operationId: 'listDelegateTokens', tag: 'delegates',
    summary: 'Delegate tokens, oldest first.', query: pageQuery,
    responses: { 200: { description: 'One page of tokens.', schema: z.object({ items: z.array(tokenViewSchema), nextCursor: nextCursorSchema }) } },
  },
  {
    method: 'POST', path: '/v1/delegate-tokens/:id/revoke', operationId: 'revokeDelegateToken', tag: 'delegates',
    summary: "Revoke a delegate token; its delegates' connections close at once.", params: idParam,
    responses: { 200: { description: 'The token, revoked.', schema: tokenViewSchema } }, errors: [404],
  },
  {
    method: 'GET', path: '/v1/delegates/eligibility', operationId: 'delegateEligibility', tag: 'delegates',
    summary: 'How many connected delegates could run a task with this placement now, and why each other one could not.',
    description:
      'The same rule and presence the dispatcher uses, and the reasons NO_ELIGIBLE_DELEGATE gives. Sealed secrets add their group key as a selector when the task is created; this answer does not include it.',
    query: eligibilityQuery,
    responses: { 200: { description: 'The connected delegates, each with its reasons.', schema: eligibilitySchema } },
  },
  {
    method: 'GET', path: '/v1/delegates', operationId: 'listDelegates', tag: 'delegates',
    summary: 'Connected delegates, and recently disconnected ones, by name.', query: pageQuery,
    responses: { 200: { description: 'One page of delegates.', schema: z.object({ items: z.array(delegateViewSchema), nextCursor: nextCursorSchema }) } },
  },
]);
