import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ROUTE_ACCESS } from '../access/route-access.js';
import { buildOpenApiDocument } from './document.js';
import { apiOperations } from './operations.js';

type Json = Record<string, any>;
const document = buildOpenApiDocument(apiOperations) as Json;
const op = (method: string, path: string): Json => document['paths'][path][method];

describe('the OpenAPI document and the route access table', () => {
  it('describes exactly the routes of ROUTE_ACCESS', () => {
    const described = apiOperations.map((o) => `${o.method} ${o.path}`).sort();
    expect(described).toEqual(Object.keys(ROUTE_ACCESS).sort());
  });

  it("takes each operation's credentials and 403 from the table", () => {
    expect(op('get', '/v1/users')['x-attache-access']).toBe('admin');
    expect(op('get', '/v1/users')['security']).toEqual([{ apiKey: [] }, { session: [] }]);
    expect(Object.keys(op('get', '/v1/users')['responses'])).toEqual(expect.arrayContaining(['200', '400', '401', '403', '429']));
    expect(op('get', '/v1/tasks')['x-attache-access']).toBe('viewer');
    expect(op('post', '/v1/tenants')['security']).toEqual([{ apiKey: [] }]);
    expect(op('post', '/v1/session')['security']).toEqual([]);
    expect(op('post', '/v1/session')['responses']['403']).toBeDefined();
    expect(op('get', '/v1/openapi.json')['security']).toEqual([]);
    expect(op('get', '/v1/openapi.json')['responses']['401']).toBeUndefined();
    expect(op('post', '/v1/delegate/nats-credentials')['security']).toEqual([{ delegateToken: [] }]);
    expect(op('get', '/v1/delegate/connect')['responses']['426']).toBeDefined();
  });

  it('names the identity error codes in the error enum', () => {
    const codes = document['components'].schemas.Error.properties.error.properties.code.enum as string[];
    for (const code of ['SIGN_IN_FAILED', 'SIGN_IN_THROTTLED', 'TENANT_REQUIRED', 'SESSION_EXPIRED', 'CSRF_TOKEN_INVALID', 'API_KEY_EXPIRED', 'API_KEY_REVOKED', 'TENANT_SUSPENDED', 'LAST_ADMIN', 'FORBIDDEN', 'QUOTA_EXCEEDED', 'AUTH_RATE_LIMITED']) {
      expect(codes).toContain(code);
    }
  });

  it('refuses to describe a route the table does not list', () => {
    const stray = { method: 'GET' as const, path: '/v1/nowhere', operationId: 'nowhere', summary: 'Nothing.', tag: 'meta' as const, responses: { 200: { description: 'Nothing.', schema: z.object({}) } } };
    expect(() => buildOpenApiDocument([stray])).toThrow(/no entry in ROUTE_ACCESS/);
  });
});
