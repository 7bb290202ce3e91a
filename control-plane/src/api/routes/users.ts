import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { passwordProblem } from '../../identity/password-hasher.js';
import { ROLES } from '../../identity/roles.js';
import type { SessionService } from '../../identity/session-service.js';
import type { UserService } from '../../identity/user-service.js';
import { requireTenant } from '../auth.js';
import { userView } from '../identity-views.js';
import { parseInput } from '../parse.js';

export const password = z.string().superRefine((value, ctx) => {
  const problem = passwordProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
export const email = z.string().trim().toLowerCase().pipe(z.email().max(254));
export const personName = z.string().trim().min(1).max(128);

export const createUserBody = z.object({ email, name: personName, role: z.enum(ROLES), password: password.optional() }).strict();
export const updateUserBody = z
  .object({ name: personName.optional(), role: z.enum(ROLES).optional(), status: z.enum(['active', 'disabled']).optional(), password: password.optional() })
  .strict();
export const userIdParam = z.object({ id: z.string().min(1).max(64) });

export function userRoutes(app: FastifyInstance, deps: { users: UserService; sessions: SessionService }): void {
  app.get('/v1/users', async (request) => {
    const tenant = requireTenant(request);
    return { items: (await deps.users.list(tenant.id)).map(userView) };
  });

  app.post('/v1/users', async (request, reply) => {
    const tenant = requireTenant(request);
    const body = parseInput(createUserBody, request.body, 'user');
    return reply.code(201).send(userView(await deps.users.create(tenant.id, body)));
  });

  app.get('/v1/users/:id', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(userIdParam, request.params, 'path');
    return userView(await deps.users.get(tenant.id, id));
  });

  app.patch('/v1/users/:id', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(userIdParam, request.params, 'path');
    const body = parseInput(updateUserBody, request.body, 'user');
    const user = await deps.users.update(tenant.id, id, body);
    // A new password ends the sessions opened with the old one.
    if (body.password !== undefined) await deps.sessions.endAllOf(tenant.id, id);
    return userView(user);
  });

  app.delete('/v1/users/:id', async (request, reply) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(userIdParam, request.params, 'path');
    await deps.users.remove(tenant.id, id);
    return reply.code(204).send();
  });

  app.post('/v1/users/:id/sessions/revoke', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(userIdParam, request.params, 'path');
    await deps.users.get(tenant.id, id);
    return { revoked: await deps.sessions.endAllOf(tenant.id, id) };
  });
}
