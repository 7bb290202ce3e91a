import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createAccountSchema, patchAccountSchema } from '../../aws/account-schema.js';
import type { AccountService } from '../../aws/account-service.js';
import { isTerminal, type Store } from '../../store/store.js';
import { requireTenant } from '../auth.js';
import { defineOperations } from '../openapi/operation.js';
import { decodeCursor, nextCursorSchema, pageOf, pageQuery } from '../pagination.js';
import { parseInput } from '../parse.js';
import { taskViewOf } from '../task-views.js';
import { accountView, accountViewSchema, taskViewSchema } from '../views.js';
import { waitQuery } from './tasks.js';

export const idParam = z.object({ id: z.string().min(1).max(64) });
const ACCOUNTS_LIST = 'aws-accounts';

export function awsAccountRoutes(app: FastifyInstance, accounts: AccountService, store: Store): void {
  app.get('/v1/aws/external-id', async (request) => {
    const tenant = requireTenant(request);
    return { externalId: tenant.externalId };
  });

  app.post('/v1/aws/accounts', async (request, reply) => {
    const tenant = requireTenant(request);
    const body = parseInput(createAccountSchema, request.body, 'AWS account');
    return reply.code(201).send(accountView(await accounts.create(tenant.id, body)));
  });

  app.get('/v1/aws/accounts', async (request) => {
    const tenant = requireTenant(request);
    const q = parseInput(pageQuery, request.query, 'query');
    const after = decodeCursor(ACCOUNTS_LIST, q.cursor);
    const rows = await accounts.list(tenant.id, { limit: q.limit + 1, after });
    const page = pageOf(ACCOUNTS_LIST, rows, q.limit, (a) => ({ key: a.name, id: a.id }));
    return { items: page.items.map(accountView), nextCursor: page.nextCursor };
  });

  app.get('/v1/aws/accounts/:id', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    return accountView(await accounts.get(tenant.id, id));
  });

  app.patch('/v1/aws/accounts/:id', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    const body = parseInput(patchAccountSchema, request.body, 'AWS account change');
    return accountView(await accounts.update(tenant.id, id, body));
  });

  app.delete('/v1/aws/accounts/:id', async (request, reply) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    await accounts.delete(tenant.id, id);
    return reply.code(204).send();
  });

  app.post('/v1/aws/accounts/:id/validate', async (request, reply) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    const { waitSeconds } = parseInput(waitQuery, request.query, 'query');
    const { account, task } = await accounts.validate(tenant.id, id, waitSeconds, request.actor);
    return reply.code(isTerminal(task.state) ? 200 : 202).send({ account: accountView(account), task: await taskViewOf(store, task) });
  });
}

export const externalIdSchema = z.object({ externalId: z.string().meta({ description: "The tenant's external ID, required by every role it lets Attaché assume." }) });
export const accountListSchema = z.object({ items: z.array(accountViewSchema), nextCursor: nextCursorSchema });
export const validationSchema = z.object({ account: accountViewSchema, task: taskViewSchema });

export const awsAccountOperations = defineOperations([
  {
    method: 'GET', path: '/v1/aws/external-id', operationId: 'getExternalId', tag: 'aws',
    summary: "The tenant's external ID for role trust policies.",
    responses: { 200: { description: 'The external ID.', schema: externalIdSchema } },
  },
  {
    method: 'POST', path: '/v1/aws/accounts', operationId: 'createAwsAccount', tag: 'aws',
    summary: 'Describe an AWS account (secrets only as references).', body: createAccountSchema,
    responses: { 201: { description: 'The account, unvalidated.', schema: accountViewSchema } }, errors: [409],
  },
  {
    method: 'GET', path: '/v1/aws/accounts', operationId: 'listAwsAccounts', tag: 'aws',
    summary: 'AWS accounts, by name.', query: pageQuery,
    responses: { 200: { description: 'One page of accounts.', schema: accountListSchema } },
  },
  {
    method: 'GET', path: '/v1/aws/accounts/:id', operationId: 'getAwsAccount', tag: 'aws',
    summary: 'An AWS account.', params: idParam,
    responses: { 200: { description: 'The account.', schema: accountViewSchema } }, errors: [404],
  },
  {
    method: 'PATCH', path: '/v1/aws/accounts/:id', operationId: 'updateAwsAccount', tag: 'aws',
    summary: 'Change an AWS account; absent fields stay.', params: idParam, body: patchAccountSchema,
    responses: { 200: { description: 'The account as changed.', schema: accountViewSchema } }, errors: [404, 409],
  },
  {
    method: 'DELETE', path: '/v1/aws/accounts/:id', operationId: 'deleteAwsAccount', tag: 'aws',
    summary: 'Delete an AWS account.', params: idParam,
    responses: { 204: { description: 'Deleted.' } }, errors: [404],
  },
  {
    method: 'POST', path: '/v1/aws/accounts/:id/validate', operationId: 'validateAwsAccount', tag: 'aws',
    summary: "Validate the account's credentials on an eligible delegate.", params: idParam, query: waitQuery,
    responses: {
      200: { description: 'The validation ended within waitSeconds.', schema: validationSchema },
      202: { description: 'The validation is still running; poll the task.', schema: validationSchema },
    },
    errors: [404, 409],
  },
]);
