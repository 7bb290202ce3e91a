import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { API_KEY_MAX_DAYS, ROTATION_GRACE_DEFAULT_SECONDS, ROTATION_GRACE_MAX_SECONDS, type ApiKeyService } from '../../identity/api-key-service.js';
import { ROLES } from '../../identity/roles.js';
import { requireTenant } from '../auth.js';
import { apiKeyView, apiKeyViewSchema } from '../identity-views.js';
import { defineOperations } from '../openapi/operation.js';
import { nextCursorSchema, pageInMemory, pageQuery } from '../pagination.js';
import { parseInput } from '../parse.js';
import { byKey } from './users.js';

export const createApiKeyBody = z
  .object({ name: z.string().trim().min(1).max(128), role: z.enum(ROLES), expiresInDays: z.number().int().min(1).max(API_KEY_MAX_DAYS).optional() })
  .strict();
export const rotateApiKeyBody = z.object({ graceSeconds: z.number().int().min(0).max(ROTATION_GRACE_MAX_SECONDS).default(ROTATION_GRACE_DEFAULT_SECONDS) }).strict();
export const apiKeyIdParam = z.object({ id: z.string().min(1).max(64) });

/** API keys are listed oldest first: a tenant has few, so a page is cut from the whole list. */
const API_KEYS_LIST = 'api-keys';

export function apiKeyRoutes(app: FastifyInstance, keys: ApiKeyService): void {
  app.post('/v1/api-keys', { config: { noStore: true } }, async (request, reply) => {
    const tenant = requireTenant(request);
    const body = parseInput(createApiKeyBody, request.body, 'API key');
    const { record, apiKey } = await keys.create(tenant.id, body);
    return reply.code(201).send({ ...apiKeyView(record), apiKey });
  });

  app.get('/v1/api-keys', async (request) => {
    const tenant = requireTenant(request);
    const q = parseInput(pageQuery, request.query, 'query');
    const startOf = (k: { id: string; createdAt: Date }) => ({ key: k.createdAt.toISOString(), id: k.id });
    const page = pageInMemory(API_KEYS_LIST, byKey(await keys.list(tenant.id), (k) => startOf(k).key), q, startOf);
    return { items: page.items.map(apiKeyView), nextCursor: page.nextCursor };
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

const keyWithSecret = apiKeyViewSchema.extend({ apiKey: z.string().meta({ description: 'The API key itself: shown once, stored hashed.' }) });

export const apiKeyOperations = defineOperations([
  {
    method: 'POST', path: '/v1/api-keys', operationId: 'createApiKey', tag: 'identity',
    summary: 'Issue an API key with a role and, optionally, an expiry (shown once).', body: createApiKeyBody,
    responses: { 201: { description: 'The key record and the key.', schema: keyWithSecret } },
  },
  {
    method: 'GET', path: '/v1/api-keys', operationId: 'listApiKeys', tag: 'identity',
    summary: "The tenant's API keys, oldest first (never their secrets).", query: pageQuery,
    responses: { 200: { description: 'One page of API keys.', schema: z.object({ items: z.array(apiKeyViewSchema), nextCursor: nextCursorSchema }) } },
  },
  {
    method: 'POST', path: '/v1/api-keys/:id/rotate', operationId: 'rotateApiKey', tag: 'identity',
    summary: 'Replace the secret of an API key; the old one stays valid for `graceSeconds`.', params: apiKeyIdParam, body: rotateApiKeyBody,
    responses: { 200: { description: 'The key record and the new key.', schema: keyWithSecret } }, errors: [404, 409],
  },
  {
    method: 'POST', path: '/v1/api-keys/:id/revoke', operationId: 'revokeApiKey', tag: 'identity',
    summary: 'Revoke an API key at once (then API_KEY_REVOKED).', params: apiKeyIdParam,
    responses: { 200: { description: 'The key, revoked.', schema: apiKeyViewSchema } }, errors: [404],
  },
]);
