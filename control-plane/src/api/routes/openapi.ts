import type { FastifyInstance } from 'fastify';
import { buildOpenApiDocument } from '../openapi/document.js';
import { OPENAPI_PATH, apiOperations } from '../openapi/operations.js';

/** The API's own description, unauthenticated so that clients and generators can fetch it. */
export function openApiRoutes(app: FastifyInstance): void {
  let document: Record<string, unknown> | undefined;
  app.get(OPENAPI_PATH, async () => (document ??= buildOpenApiDocument(apiOperations)));
}
