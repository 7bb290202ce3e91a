import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { TenantService } from '../../tenancy/tenant-service.js';
import { apiKeyView, tenantView, userView } from '../identity-views.js';
import { parseInput } from '../parse.js';
import { email, password, personName } from './users.js';

export const tenantName = z.string().trim().min(1).max(128).regex(/^[\w .@-]+$/, 'letters, digits, space and _ . @ - only');
export const createTenantBody = z.object({ name: tenantName, admin: z.object({ email, name: personName, password: password.optional() }).strict().optional() }).strict();
export const listTenantsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(64).optional() }).strict();
export const tenantIdParam = z.object({ id: z.string().min(1).max(64) });
export const adminCredentialsBody = z
  .object({
    keyName: z.string().trim().min(1).max(128).default('operator-issued admin key'),
    user: z.object({ email, name: personName.optional(), password }).strict().optional(),
  })
  .strict();

/** Operator routes (the access table admits only the operator key). */
export function tenantRoutes(app: FastifyInstance, tenants: TenantService): void {
  app.post('/v1/tenants', { config: { noStore: true } }, async (request, reply) => {
    const body = parseInput(createTenantBody, request.body, 'tenant');
    const { tenant, apiKey, admin } = await tenants.create(body.name, body.admin);
    return reply.code(201).send({ ...tenantView(tenant), apiKey, admin: admin ? userView(admin) : null });
  });

  app.get('/v1/tenants', async (request) => {
    const query = parseInput(listTenantsQuery, request.query, 'query');
    const items = await tenants.list(query.limit, query.cursor);
    return { items: items.map(tenantView), nextCursor: items.length === query.limit ? items[items.length - 1]!.id : null };
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
