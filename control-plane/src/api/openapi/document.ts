import { createRequire } from 'node:module';
import { z } from 'zod';
import { accessOf, type Access } from '../access/route-access.js';
import { CSRF_HEADER, SESSION_COOKIE } from '../access/session-cookies.js';
import { API_TAGS, type ApiOperation, type ApiResponse } from './operation.js';
import { ERROR_STATUS_TEXT, errorBodySchema } from './error-body.js';

/**
 * Builds the OpenAPI 3.1 document from the operations' zod schemas with zod's own JSON Schema
 * (draft 2020-12, the dialect of OpenAPI 3.1): request schemas as their input (defaults optional,
 * query strings before coercion), responses as their output. Schemas named with `.meta({id})`
 * become components and are referenced, everything else is inlined.
 */
type Json = Record<string, unknown>;

const COMPONENT_REF = '#/components/schemas/';
const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

export function buildOpenApiDocument(operations: readonly ApiOperation[]): Json {
  const components = new Map<string, Json>();
  // Inputs and outputs of one named schema differ (defaults, coercions): inputs get their own names.
  const nameOf = (id: string, io: 'input' | 'output') => (io === 'output' ? id : `${id}Input`);
  const schemaOf = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const raw = JSON.stringify(z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline' }));
    const { $schema: _dialect, $defs, ...rest } = JSON.parse(raw.replaceAll(/"#\/\$defs\/(\w+)"/g, (_m, id: string) => `"${COMPONENT_REF}${nameOf(id, io)}"`)) as Json;
    for (const [id, def] of Object.entries(($defs ?? {}) as Record<string, Json>)) addComponent(nameOf(id, io), def);
    // A named schema at the top comes back as a reference to its definition, like a nested one.
    return rest;
  };
  const addComponent = (name: string, schema: Json) => {
    const previous = components.get(name);
    if (previous && JSON.stringify(previous) !== JSON.stringify(schema)) throw new Error(`two different schemas are named ${name}`);
    components.set(name, schema);
  };

  const errorRef = schemaOf(errorBodySchema, 'output');
  const paths: Record<string, Record<string, Json>> = {};
  for (const op of operations) {
    const path = op.path.replaceAll(/:(\w+)/g, '{$1}');
    const access = accessOf(op.method, op.path);
    if (access === undefined) throw new Error(`${op.method} ${op.path} is described but has no entry in ROUTE_ACCESS (api/access/route-access.ts).`);
    const responses: Record<string, Json> = {};
    for (const [status, response] of Object.entries(op.responses)) responses[status] = responseOf(response, schemaOf);
    for (const status of errorStatuses(op, access)) {
      responses[String(status)] ??= { description: ERROR_STATUS_TEXT[status] ?? 'An error.', content: { 'application/json': { schema: errorRef } } };
    }
    const operation: Json = {
      operationId: op.operationId,
      summary: op.summary,
      description: [op.description, ACCESS_TEXT[access]].filter(Boolean).join('\n\n'),
      tags: [op.tag],
      security: SECURITY[access],
      'x-attache-access': access,
      parameters: [...parametersOf(op.params, 'path', schemaOf), ...parametersOf(op.query, 'query', schemaOf)],
      ...(op.body ? { requestBody: { required: true, content: { 'application/json': { schema: schemaOf(op.body, 'input') } } } } : {}),
      responses,
    };
    if ((operation['parameters'] as unknown[]).length === 0) delete operation['parameters'];
    (paths[path] ??= {})[op.method.toLowerCase()] = operation;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'Attaché control plane API',
      version,
      description:
        'Tenants describe cloud accounts and queue work; delegates inside their networks run it. Every error is `{error: {code, message, details}}`. List routes page with `limit` and `cursor`, and answer `nextCursor` (null on the last page).',
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: '/', description: 'This control plane' }],
    tags: Object.entries(API_TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: "A tenant's API key (its role decides what it may call), or the operator key for /v1/tenants." },
        session: {
          type: 'apiKey',
          in: 'cookie',
          name: SESSION_COOKIE,
          description: `The session cookie POST /v1/session sets. Requests other than GET and HEAD also send the CSRF token it answered in the ${CSRF_HEADER} header.`,
        },
        delegateToken: { type: 'http', scheme: 'bearer', description: 'A delegate token (POST /v1/delegate-tokens), for routes delegates call.' },
        metricsToken: { type: 'http', scheme: 'bearer', description: 'ATTACHE_METRICS_TOKEN, when the control plane has one.' },
      },
      schemas: Object.fromEntries([...components.entries()].sort(([a], [b]) => (a < b ? -1 : 1))),
    },
  };
}

/** Credentials by access level (ROUTE_ACCESS): roles and signed-in routes take an API key or a session. */
const TENANT_CREDENTIALS: Json[] = [{ apiKey: [] }, { session: [] }];
const SECURITY: Record<Access, Json[]> = {
  public: [],
  'sign-in': [],
  // An empty requirement: the token is needed only when the control plane has one.
  metrics: [{}, { metricsToken: [] }],
  delegate: [{ delegateToken: [] }],
  'signed-in': [{ apiKey: [] }, { session: [] }],
  operator: [{ apiKey: [] }],
  viewer: TENANT_CREDENTIALS,
  editor: TENANT_CREDENTIALS,
  admin: TENANT_CREDENTIALS,
};

const ACCESS_TEXT: Record<Access, string> = {
  public: 'No credentials needed.',
  'sign-in': 'No credentials needed: this is where a session is obtained.',
  metrics: 'The ATTACHE_METRICS_TOKEN bearer when the control plane has one; else no credentials.',
  delegate: 'A delegate token.',
  'signed-in': 'Any valid credentials: an API key, a session, or the operator key.',
  operator: 'The operator key only.',
  viewer: 'Needs the viewer role or higher (an API key or a user session of the tenant).',
  editor: 'Needs the editor role or higher (an API key or a user session of the tenant).',
  admin: 'Needs the admin role (an API key or a user session of the tenant).',
};

/** The errors every route of its access level can answer, and the route's own. */
function errorStatuses(op: ApiOperation, access: Access): number[] {
  const statuses = new Set<number>(op.errors ?? []);
  if (op.params || op.query || op.body) statuses.add(400);
  if (op.body) [413, 415].forEach((s) => statuses.add(s));
  // 401 and 429 also come from the failed-authentication limit, before any route logic.
  if (access !== 'public') [401, 429].forEach((s) => statuses.add(s));
  if (access === 'operator' || access === 'signed-in' || access === 'viewer' || access === 'editor' || access === 'admin') statuses.add(403);
  statuses.add(500);
  return [...statuses].sort();
}

function responseOf(response: ApiResponse, schemaOf: (s: z.ZodType, io: 'input' | 'output') => Json): Json {
  if (!response.schema) return { description: response.description };
  const content: Json = { [response.contentType ?? 'application/json']: { schema: schemaOf(response.schema, 'output') } };
  for (const [type, schema] of Object.entries(response.alternatives ?? {})) content[type] = { schema: schemaOf(schema, 'output') };
  return { description: response.description, content };
}

function parametersOf(object: z.ZodObject | undefined, where: 'path' | 'query', schemaOf: (s: z.ZodType, io: 'input' | 'output') => Json): Json[] {
  if (!object) return [];
  const json = schemaOf(object, 'input');
  const required = new Set((json['required'] as string[] | undefined) ?? []);
  return Object.entries((json['properties'] ?? {}) as Record<string, Json>).map(([name, schema]) => {
    const { description, deprecated, ...rest } = schema;
    return {
      name,
      in: where,
      required: where === 'path' || required.has(name),
      ...(description ? { description } : {}),
      ...(deprecated ? { deprecated } : {}),
      schema: rest,
    };
  });
}
