import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { passwordProblem } from '../../identity/password-hasher.js';
import { ROLES } from '../../identity/roles.js';
import type { SessionService } from '../../identity/session-service.js';
import type { UserService } from '../../identity/user-service.js';
import { requireTenant } from '../auth.js';
import { userView, userViewSchema } from '../identity-views.js';
import { defineOperations } from '../openapi/operation.js';
import { nextCursorSchema, pageInMemory, pageQuery } from '../pagination.js';
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

/** Users are listed by email: a tenant has few, so a page is cut from the whole list. */
const USERS_LIST = 'users';

/** Rows sorted by a string key then id, in code-unit order (the order pageInMemory compares in). */
export function byKey<R extends { id: string }>(rows: readonly R[], key: (row: R) => string): R[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...rows].sort((a, b) => cmp(key(a), key(b)) || cmp(a.id, b.id));
}

export function userRoutes(app: FastifyInstance, deps: { users: UserService; sessions: SessionService }): void {
  app.get('/v1/users', async (request) => {
    const tenant = requireTenant(request);
    const q = parseInput(pageQuery, request.query, 'query');
    const page = pageInMemory(USERS_LIST, byKey(await deps.users.list(tenant.id), (u) => u.email), q, (u) => ({ key: u.email, id: u.id }));
    return { items: page.items.map(userView), nextCursor: page.nextCursor };
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

export const userOperations = defineOperations([
  {
    method: 'GET', path: '/v1/users', operationId: 'listUsers', tag: 'identity',
    summary: "The tenant's users, by email.", query: pageQuery,
    responses: { 200: { description: 'One page of users.', schema: z.object({ items: z.array(userViewSchema), nextCursor: nextCursorSchema }) } },
  },
  {
    method: 'POST', path: '/v1/users', operationId: 'createUser', tag: 'identity',
    summary: 'Add a user; without a password they cannot sign in with one until an admin sets it.', body: createUserBody,
    responses: { 201: { description: 'The user.', schema: userViewSchema } }, errors: [409],
  },
  {
    method: 'GET', path: '/v1/users/:id', operationId: 'getUser', tag: 'identity',
    summary: 'One user.', params: userIdParam,
    responses: { 200: { description: 'The user.', schema: userViewSchema } }, errors: [404],
  },
  {
    method: 'PATCH', path: '/v1/users/:id', operationId: 'updateUser', tag: 'identity',
    summary: "Change a user's name, role, status or password; a new password or a disabled user ends their sessions.",
    description: 'The last active admin cannot be demoted or disabled (409 LAST_ADMIN).',
    params: userIdParam, body: updateUserBody,
    responses: { 200: { description: 'The user, changed.', schema: userViewSchema } }, errors: [404, 409],
  },
  {
    method: 'DELETE', path: '/v1/users/:id', operationId: 'deleteUser', tag: 'identity',
    summary: 'Delete a user and end their sessions; not the last active admin (409 LAST_ADMIN).', params: userIdParam,
    responses: { 204: { description: 'Deleted.' } }, errors: [404, 409],
  },
  {
    method: 'POST', path: '/v1/users/:id/sessions/revoke', operationId: 'revokeUserSessions', tag: 'identity',
    summary: 'End every session of a user.', params: userIdParam,
    responses: { 200: { description: 'How many sessions ended.', schema: z.object({ revoked: z.number().int().min(0) }) } }, errors: [404],
  },
]);
