import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { TenantService } from '../../tenancy/tenant-service.js';
import { requireOperator } from '../auth.js';
import { parseInput } from '../parse.js';

const createTenant = z.object({ name: z.string().trim().min(1).max(128).regex(/^[\w .@-]+$/, 'letters, digits, space and _ . @ - only') }).strict();

export function tenantRoutes(app: FastifyInstance, tenants: TenantService): void {
  app.post('/v1/tenants', { config: { noStore: true } }, async (request, reply) => {
    requireOperator(request);
    const body = parseInput(createTenant, request.body, 'tenant');
    const { tenant, apiKey } = await tenants.create(body.name);
    return reply.code(201).send({ id: tenant.id, name: tenant.name, apiKey, createdAt: tenant.createdAt.toISOString() });
  });
}
