import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { createAccountSchema, patchAccountSchema } from '../../aws/account-schema.js';
import type { AccountService } from '../../aws/account-service.js';
import { isTerminal } from '../../store/store.js';
import { requireTenant } from '../auth.js';
import { parseInput } from '../parse.js';
import { accountView, taskView } from '../views.js';
import { waitQuery } from './tasks.js';

const idParam = z.object({ id: z.string().min(1).max(64) });

export function awsAccountRoutes(app: FastifyInstance, accounts: AccountService): void {
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
    return { items: (await accounts.list(tenant.id)).map(accountView) };
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
    return reply.code(isTerminal(task.state) ? 200 : 202).send({ account: accountView(account), task: taskView(task) });
  });
}
