import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { API_KEY_MAX_DAYS, ROTATION_GRACE_DEFAULT_SECONDS, ROTATION_GRACE_MAX_SECONDS, type ApiKeyService } from '../../identity/api-key-service.js';
import { ROLES } from '../../identity/roles.js';
import { requireTenant } from '../auth.js';
import { apiKeyView } from '../identity-views.js';
import { parseInput } from '../parse.js';

export const createApiKeyBody = z
  .object({ name: z.string().trim().min(1).max(128), role: z.enum(ROLES), expiresInDays: z.number().int().min(1).max(API_KEY_MAX_DAYS).optional() })
  .strict();
export const rotateApiKeyBody = z.object({ graceSeconds: z.number().int().min(0).max(ROTATION_GRACE_MAX_SECONDS).default(ROTATION_GRACE_DEFAULT_SECONDS) }).strict();
export const apiKeyIdParam = z.object({ id: z.string().min(1).max(64) });

export function apiKeyRoutes(app: FastifyInstance, keys: ApiKeyService): void {
  app.post('/v1/api-keys', { config: { noStore: true } }, async (request, reply) => {
    const tenant = requireTenant(request);
    const body = parseInput(createApiKeyBody, request.body, 'API key');
    const { record, apiKey } = await keys.create(tenant.id, body);
    return reply.code(201).send({ ...apiKeyView(record), apiKey });
  });

  app.get('/v1/api-keys', async (request) => {
    const tenant = requireTenant(request);
    return { items: (await keys.list(tenant.id)).map(apiKeyView) };
  });

  app.post('/v1/api-keys/:id/rotate', { config: { noStore: true } }, async (request, reply) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(apiKeyIdParam, request.params, 'path');
    const body = parseInput(rotateApiKeyBody, request.body, 'rotation');
    const { record, apiKey } = await keys.rotate(tenant.id, id, body.graceSeconds);
    return reply.send({ ...apiKeyView(record), apiKey });
  });

  app.post('/v1/api-keys/:id/revoke', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(apiKeyIdParam, request.params, 'path');
    return apiKeyView(await keys.revoke(tenant.id, id));
  });
}
