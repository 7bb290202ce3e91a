import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { SessionService } from '../../identity/session-service.js';
import { PASSWORD_MAX_LENGTH } from '../../identity/password-hasher.js';
import { sessionOf } from '../access/access-control.js';
import type { SessionCookies } from '../access/session-cookies.js';
import { parseInput } from '../parse.js';
import { userView, userViewSchema } from '../identity-views.js';
import { defineOperations } from '../openapi/operation.js';
import { ROLES } from '../../identity/roles.js';

/** Password sign-in. The password is not checked for length here: an old, shorter one must still fail the same way. */
export const createSessionBody = z
  .object({
    email: z.string().trim().min(3).max(254),
    password: z.string().min(1).max(PASSWORD_MAX_LENGTH),
    tenant: z.string().trim().min(1).max(128).optional(),
  })
  .strict();

export function sessionRoutes(app: FastifyInstance, deps: { sessions: SessionService; cookies: SessionCookies }): void {
  app.post('/v1/session', { config: { noStore: true } }, async (request, reply) => {
    const body = parseInput(createSessionBody, request.body, 'sign-in');
    const issued = await deps.sessions.signInWithPassword(body, { address: request.ip });
    deps.cookies.set(reply, issued);
    return reply.code(201).send({
        user: userView(issued.user),
        tenant: { id: issued.tenant.id, name: issued.tenant.name },
        role: issued.user.role,
        expiresAt: issued.expiresAt.toISOString(),
        csrfToken: issued.csrfToken,
      });
  });

  app.delete('/v1/session', async (request, reply) => {
    const session = sessionOf(request);
    if (session) await deps.sessions.end(session.secret);
    deps.cookies.clear(reply);
    return reply.code(204).send();
  });

  app.get('/v1/me', async (request) => {
    const p = request.principal!;
    if (p.kind === 'operator') return { kind: 'operator', role: 'operator', tenant: null };
    const tenant = { id: p.tenant.id, name: p.tenant.name };
    if (p.via.type === 'apiKey') {
      const k = p.via.key;
      return { kind: 'apiKey', role: p.role, tenant, apiKey: { id: k.id, name: k.name, prefix: k.prefix, expiresAt: k.expiresAt?.toISOString() ?? null } };
    }
    return { kind: 'user', role: p.role, tenant, user: userView(p.via.user), sessionExpiresAt: p.via.session.expiresAt.toISOString() };
  });
}

const tenantRef = z.object({ id: z.string(), name: z.string() });

export const sessionSchema = z.object({
  user: userViewSchema,
  tenant: tenantRef,
  role: z.enum(ROLES),
  expiresAt: z.iso.datetime(),
  csrfToken: z.string().meta({ description: 'Send it in the x-csrf-token header with every request other than GET and HEAD.' }),
});

export const meSchema = z
  .discriminatedUnion('kind', [
    z.object({ kind: z.literal('operator'), role: z.literal('operator'), tenant: z.null() }),
    z.object({
      kind: z.literal('apiKey'),
      role: z.enum(ROLES),
      tenant: tenantRef,
      apiKey: z.object({ id: z.string(), name: z.string(), prefix: z.string(), expiresAt: z.iso.datetime().nullable() }),
    }),
    z.object({ kind: z.literal('user'), role: z.enum(ROLES), tenant: tenantRef, user: userViewSchema, sessionExpiresAt: z.iso.datetime() }),
  ])
  .meta({ id: 'Me' });

export const sessionOperations = defineOperations([
  {
    method: 'POST', path: '/v1/session', operationId: 'signIn', tag: 'identity',
    summary: 'Sign in with email and password: sets the session and CSRF cookies.',
    description:
      'Wrong email or password: 401 SIGN_IN_FAILED (the same for both). An email in several tenants without `tenant`: 409 TENANT_REQUIRED. Too many failures for the email or address: 429 SIGN_IN_THROTTLED with Retry-After.',
    body: createSessionBody,
    responses: { 201: { description: 'The session.', schema: sessionSchema } }, errors: [403, 409],
  },
  {
    method: 'DELETE', path: '/v1/session', operationId: 'signOut', tag: 'identity',
    summary: 'Sign out: ends the session and clears its cookies.',
    responses: { 204: { description: 'Signed out.' } },
  },
  {
    method: 'GET', path: '/v1/me', operationId: 'getMe', tag: 'identity',
    summary: 'Who the credentials are: operator, API key or user, with role and tenant.',
    responses: { 200: { description: 'The caller.', schema: meSchema } },
  },
]);
