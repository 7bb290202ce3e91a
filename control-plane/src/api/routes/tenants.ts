import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { TenantService } from '../../tenancy/tenant-service.js';
import { requireOperator } from '../auth.js';
import { defineOperations } from '../openapi/operation.js';
import { parseInput } from '../parse.js';

export const createTenant = z.object({ name: z.string().trim().min(1).max(128).regex(/^[\w .@-]+$/, 'letters, digits, space and _ . @ - only') }).strict();

export function tenantRoutes(app: FastifyInstance, tenants: TenantService): void {
  app.post('/v1/tenants', async (request, reply) => {
    requireOperator(request);
    const body = parseInput(createTenant, request.body, 'tenant');
    const { tenant, apiKey } = await tenants.create(body.name);
    return reply.code(201).send({ id: tenant.id, name: tenant.name, apiKey, createdAt: tenant.createdAt.toISOString() });
  });
}

export const createdTenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  apiKey: z.string().meta({ description: "The tenant's API key: shown once, stored hashed." }),
  createdAt: z.iso.datetime(),
});

export const tenantOperations = defineOperations([
  {
    method: 'POST', path: '/v1/tenants', operationId: 'createTenant', tag: 'tenants', auth: 'operator',
    summary: 'Create a tenant and its first API key (operator key only).', body: createTenant,
    responses: { 201: { description: 'The tenant and its API key.', schema: createdTenantSchema } }, errors: [409],
  },
]);
