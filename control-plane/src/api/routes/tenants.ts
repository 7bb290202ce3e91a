import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { TenantService } from '../../tenancy/tenant-service.js';
import { apiKeyView, apiKeyViewSchema, tenantView, tenantViewSchema, userView, userViewSchema } from '../identity-views.js';
import { defineOperations } from '../openapi/operation.js';
import { decodeCursor, nextCursorSchema, pageOf, pageQuery } from '../pagination.js';
import { parseInput } from '../parse.js';
import { email, password, personName } from './users.js';

export const tenantName = z.string().trim().min(1).max(128).regex(/^[\w .@-]+$/, 'letters, digits, space and _ . @ - only');
export const createTenantBody = z.object({ name: tenantName, admin: z.object({ email, name: personName, password: password.optional() }).strict().optional() }).strict();
export const tenantIdParam = z.object({ id: z.string().min(1).max(64) });
export const adminCredentialsBody = z
  .object({
    keyName: z.string().trim().min(1).max(128).default('operator-issued admin key'),
    user: z.object({ email, name: personName.optional(), password }).strict().optional(),
  })
  .strict();

/** Tenants are listed in id order. */
const TENANTS_LIST = 'tenants';

/** Operator routes (the access table admits only the operator key). */
export function tenantRoutes(app: FastifyInstance, tenants: TenantService): void {
  app.post('/v1/tenants', { config: { noStore: true } }, async (request, reply) => {
    const body = parseInput(createTenantBody, request.body, 'tenant');
    const { tenant, apiKey, admin } = await tenants.create(body.name, body.admin);
    return reply.code(201).send({ ...tenantView(tenant), apiKey, admin: admin ? userView(admin) : null });
  });

  app.get('/v1/tenants', async (request) => {
    const q = parseInput(pageQuery, request.query, 'query');
    const rows = await tenants.list(q.limit + 1, decodeCursor(TENANTS_LIST, q.cursor)?.id);
    const page = pageOf(TENANTS_LIST, rows, q.limit, (t) => ({ key: t.id, id: t.id }));
    return { items: page.items.map(tenantView), nextCursor: page.nextCursor };
  });

  app.get('/v1/tenants/:id', async (request) => {
    const { id } = parseInput(tenantIdParam, request.params, 'path');
    return tenantView(await tenants.get(id));
  });

  app.post('/v1/tenants/:id/suspend', async (request) => {
    const { id } = parseInput(tenantIdParam, request.params, 'path');
    return tenantView(await tenants.suspend(id));
  });

  app.post('/v1/tenants/:id/resume', async (request) => {
    const { id } = parseInput(tenantIdParam, request.params, 'path');
    return tenantView(await tenants.resume(id));
  });

  app.post('/v1/tenants/:id/admin-credentials', { config: { noStore: true } }, async (request, reply) => {
    const { id } = parseInput(tenantIdParam, request.params, 'path');
    const body = parseInput(adminCredentialsBody, request.body, 'admin credentials');
    const issued = await tenants.issueAdminCredentials(id, body);
    return reply.code(201).send({ apiKey: { ...apiKeyView(issued.key), apiKey: issued.apiKey }, user: issued.user ? userView(issued.user) : null });
  });
}

export const createdTenantSchema = tenantViewSchema.extend({
  apiKey: z.string().meta({ description: "The tenant's first API key (admin role): shown once, stored hashed." }),
  admin: userViewSchema.nullable().meta({ description: 'The first admin user, when `admin` was given.' }),
});

export const adminCredentialsSchema = z.object({
  apiKey: apiKeyViewSchema.extend({ apiKey: z.string().meta({ description: 'The new admin API key: shown once, stored hashed.' }) }),
  user: userViewSchema.nullable().meta({ description: 'The admin user created or reset, when `user` was given.' }),
});

export const tenantOperations = defineOperations([
  {
    method: 'POST', path: '/v1/tenants', operationId: 'createTenant', tag: 'tenants',
    summary: 'Create a tenant, its first admin API key and, optionally, its first admin user.', body: createTenantBody,
    responses: { 201: { description: 'The tenant, its API key and its admin user.', schema: createdTenantSchema } }, errors: [409],
  },
  {
    method: 'GET', path: '/v1/tenants', operationId: 'listTenants', tag: 'tenants',
    summary: 'Tenants, by id.', query: pageQuery,
    responses: { 200: { description: 'One page of tenants.', schema: z.object({ items: z.array(tenantViewSchema), nextCursor: nextCursorSchema }) } },
  },
  {
    method: 'GET', path: '/v1/tenants/:id', operationId: 'getTenant', tag: 'tenants',
    summary: 'One tenant.', params: tenantIdParam,
    responses: { 200: { description: 'The tenant.', schema: tenantViewSchema } }, errors: [404],
  },
  {
    method: 'POST', path: '/v1/tenants/:id/suspend', operationId: 'suspendTenant', tag: 'tenants',
    summary: "Suspend a tenant: its keys and sessions are refused (TENANT_SUSPENDED) and its delegates' connections close.", params: tenantIdParam,
    responses: { 200: { description: 'The tenant, suspended.', schema: tenantViewSchema } }, errors: [404],
  },
  {
    method: 'POST', path: '/v1/tenants/:id/resume', operationId: 'resumeTenant', tag: 'tenants',
    summary: 'Resume a suspended tenant.', params: tenantIdParam,
    responses: { 200: { description: 'The tenant, active.', schema: tenantViewSchema } }, errors: [404],
  },
  {
    method: 'POST', path: '/v1/tenants/:id/admin-credentials', operationId: 'issueTenantAdminCredentials', tag: 'tenants',
    summary: "Issue a new admin API key for a tenant and, optionally, create or reset an admin user (a tenant that lost its admins).",
    params: tenantIdParam, body: adminCredentialsBody,
    responses: { 201: { description: 'The new key (shown once) and the user.', schema: adminCredentialsSchema } }, errors: [404, 409],
  },
]);
