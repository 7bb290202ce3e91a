import { z } from 'zod';
import { apiKeyOperations } from '../routes/api-keys.js';
import { auditOperations } from '../routes/audit.js';
import { awsAccountOperations } from '../routes/aws-accounts.js';
import { awsPolicyOperations } from '../routes/aws-policies.js';
import { delegateConnectOperations } from '../routes/delegate-connect.js';
import { delegateGroupOperations } from '../routes/delegate-groups.js';
import { delegateOperations } from '../routes/delegates.js';
import { eventOperations } from '../routes/events.js';
import { gatewayOperations } from '../routes/gateways.js';
import { natsCredentialOperations } from '../routes/nats-credentials.js';
import { oidcOperations } from '../routes/oidc.js';
import { sessionOperations } from '../routes/session.js';
import { taskOperations } from '../routes/tasks.js';
import { tenantOperations } from '../routes/tenants.js';
import { userOperations } from '../routes/users.js';
import { defineOperations, type ApiOperation } from './operation.js';

export const OPENAPI_PATH = '/v1/openapi.json';

/** The probes and metrics of http-server.ts, and this document. */
const metaOperations = defineOperations([
  {
    method: 'GET', path: '/healthz', operationId: 'getHealth', tag: 'meta',
    summary: 'Liveness: the process answers.',
    responses: { 200: { description: 'Alive.', schema: z.object({ status: z.literal('ok') }) } },
  },
  {
    method: 'GET', path: '/readyz', operationId: 'getReadiness', tag: 'meta',
    summary: 'Readiness: the store answers, the carriers listen, the bus is connected.',
    responses: {
      200: { description: 'Ready.', schema: z.object({ status: z.literal('ready'), checks: z.record(z.string(), z.string()) }) },
      503: { description: 'Not ready; `checks` says what fails.', schema: z.object({ status: z.literal('not ready'), checks: z.record(z.string(), z.string()) }) },
    },
  },
  {
    method: 'GET', path: '/metrics', operationId: 'getMetrics', tag: 'meta',
    summary: 'Prometheus metrics (text exposition format).',
    responses: { 200: { description: 'The metrics.', schema: z.string(), contentType: 'text/plain' } },
    errors: [429],
  },
  {
    method: 'GET', path: OPENAPI_PATH, operationId: 'getOpenApiDocument', tag: 'meta',
    summary: 'This OpenAPI 3.1 document.',
    responses: { 200: { description: 'The document.', schema: z.record(z.string(), z.unknown()) } },
    errors: [429],
  },
]);

/**
 * Every route of the API. A route file exports its operations next to its schemas; a new file's
 * list goes here (the e2e test fails for any registered route the document lacks).
 */
export const apiOperations: readonly ApiOperation[] = [
  ...tenantOperations,
  ...sessionOperations,
  ...oidcOperations,
  ...userOperations,
  ...apiKeyOperations,
  ...delegateOperations,
  ...taskOperations,
  ...eventOperations,
  ...awsAccountOperations,
  ...awsPolicyOperations,
  ...gatewayOperations,
  ...delegateGroupOperations,
  ...auditOperations,
  ...natsCredentialOperations,
  ...delegateConnectOperations,
  ...metaOperations,
];
