import type { Role } from '../../identity/roles.js';
import { CLI_SIGN_IN_EXCHANGE_PATH, NATS_CREDENTIALS_PATH } from '@attache/proto';

/**
 * Who may call a route. Roles are ordered (viewer < editor < admin); the other levels are not roles:
 * - `public`: anyone, no credentials read (liveness and readiness probes);
 * - `metrics`: the ATTACHE_METRICS_TOKEN bearer when one is set, else anyone;
 * - `delegate`: the route checks a delegate token itself;
 * - `sign-in`: anyone; this is where credentials are obtained;
 * - `signed-in`: any caller with valid credentials, operator included;
 * - `operator`: the operator key only.
 */
export type Access = 'public' | 'metrics' | 'delegate' | 'sign-in' | 'signed-in' | 'operator' | Role;

/**
 * THE table: every route's minimum access, by method and Fastify route pattern. A route missing here
 * is refused at registration (the control plane does not start), so nothing is reachable by
 * accident. editor: accounts, validations, tasks; admin: users, API keys, delegate tokens and key
 * trust; viewer: reads. Reads that run work on a delegate (available policies) are editor.
 */
export const ROUTE_ACCESS: Readonly<Record<string, Access>> = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  'GET /metrics': 'metrics',
  'GET /v1/openapi.json': 'public',
  [`POST ${NATS_CREDENTIALS_PATH}`]: 'delegate',
  // A plain GET answers 426; the WebSocket upgrade itself never reaches Fastify and checks the delegate token.
  'GET /v1/delegate/connect': 'delegate',

  'POST /v1/session': 'sign-in',
  'DELETE /v1/session': 'signed-in',
  'GET /v1/me': 'signed-in',
  'GET /v1/session/providers': 'sign-in',
  'GET /v1/session/oidc/start': 'sign-in',
  'GET /v1/session/oidc/callback': 'sign-in',
  [`POST ${CLI_SIGN_IN_EXCHANGE_PATH}`]: 'sign-in',
  'GET /v1/oidc': 'admin',
  'PUT /v1/oidc': 'admin',
  'DELETE /v1/oidc': 'admin',

  'POST /v1/tenants': 'operator',
  'GET /v1/tenants': 'operator',
  'GET /v1/tenants/:id': 'operator',
  'POST /v1/tenants/:id/suspend': 'operator',
  'POST /v1/tenants/:id/resume': 'operator',
  'POST /v1/tenants/:id/admin-credentials': 'operator',

  'GET /v1/users': 'admin',
  'POST /v1/users': 'admin',
  'GET /v1/users/:id': 'admin',
  'PATCH /v1/users/:id': 'admin',
  'DELETE /v1/users/:id': 'admin',
  'POST /v1/users/:id/sessions/revoke': 'admin',

  'GET /v1/api-keys': 'admin',
  'POST /v1/api-keys': 'admin',
  'POST /v1/api-keys/:id/rotate': 'admin',
  'POST /v1/api-keys/:id/revoke': 'admin',

  'GET /v1/delegate-tokens': 'admin',
  'POST /v1/delegate-tokens': 'admin',
  'POST /v1/delegate-tokens/:id/revoke': 'admin',
  'GET /v1/delegates': 'viewer',
  'GET /v1/delegates/eligibility': 'viewer',
  'GET /v1/gateways': 'viewer',
  'GET /v1/delegate-groups/:name/public-key': 'viewer',
  'GET /v1/delegate-groups/:name/key-usage': 'viewer',
  'POST /v1/delegate-groups/:name/keys/:keyId/trust': 'admin',
  'POST /v1/delegate-groups/:name/keys/:keyId/distrust': 'admin',

  'GET /v1/tasks': 'viewer',
  'GET /v1/tasks/:id': 'viewer',
  'POST /v1/tasks': 'editor',
  'POST /v1/tasks/batch': 'editor',
  'POST /v1/tasks/:id/cancel': 'editor',
  'GET /v1/queue': 'viewer',
  'GET /v1/events': 'viewer',

  'GET /v1/aws/external-id': 'viewer',
  'GET /v1/aws/role-setup': 'viewer',
  'GET /v1/aws/accounts': 'viewer',
  'GET /v1/aws/accounts/:id': 'viewer',
  'POST /v1/aws/accounts': 'editor',
  'PATCH /v1/aws/accounts/:id': 'editor',
  'DELETE /v1/aws/accounts/:id': 'editor',
  'POST /v1/aws/accounts/:id/validate': 'editor',
  'GET /v1/aws/accounts/:id/available-policies': 'editor',
  'PUT /v1/aws/accounts/:id/policies': 'editor',

  'GET /v1/audit': 'admin',
  'GET /v1/audit/export': 'admin',
};

/** HEAD is answered by the GET route (Fastify adds it), so it needs what GET needs. */
export function accessOf(method: string, url: string): Access | undefined {
  return ROUTE_ACCESS[`${method === 'HEAD' ? 'GET' : method} ${url}`];
}
