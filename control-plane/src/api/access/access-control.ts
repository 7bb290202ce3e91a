import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError, ErrorCode } from '../../errors.js';
import { roleAtLeast } from '../../identity/roles.js';
import { secretsEqual } from '../../security/secrets.js';
import { bearer } from '../auth.js';
import { checkCsrf } from './csrf.js';
import { identify, type CredentialSources } from './credentials.js';
import { actorOf, type Principal } from './principal.js';
import { accessOf, type Access } from './route-access.js';
import { CSRF_COOKIE, CSRF_HEADER } from './session-cookies.js';

export interface RegisteredRoute {
  method: string;
  url: string;
  access: Access;
}

const registered = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route the app registered with its access level (the role walk test reads this). */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return registered.get(app) ?? [];
}

/**
 * Authentication and authorisation for every route, from the route table and nothing else. Called
 * before any route is registered: a route missing from the table fails registration.
 *
 * Per request (onRequest, on the matched route pattern, never on the raw URL): credentials are
 * checked, the role compared with the table's minimum, the CSRF token checked for cookie sessions,
 * and `request.actor` set: the one place the audit trail will read who did what, from where.
 */
export async function installAccessControl(app: FastifyInstance, sources: CredentialSources): Promise<void> {
  await app.register(cookie);
  const routes: RegisteredRoute[] = [];
  registered.set(app, routes);

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) {
      const access = accessOf(method, route.url);
      if (!access) throw new Error(`Route ${method} ${route.url} has no entry in ROUTE_ACCESS (api/access/route-access.ts): say who may call it.`);
      if (method !== 'HEAD') routes.push({ method, url: route.url, access });
    }
  });

  app.decorateRequest('actor', null as never);
  app.addHook('onRequest', async (request) => {
    const client = { address: request.ip, userAgent: request.headers['user-agent'] ?? null };
    request.actor = actorOf(undefined, client);
    const url = request.routeOptions.url;
    // A path no route matches still needs credentials: which paths exist is not told to strangers.
    const access = request.is404 || url === undefined ? 'signed-in' : accessOf(request.method, url);
    if (access === undefined) throw new AppError(ErrorCode.INTERNAL, `Route ${request.method} ${url} has no access rule.`);
    if (access === 'public' || access === 'delegate' || access === 'sign-in') return;
    if (access === 'metrics') {
      const token = bearer(request);
      if (sources.metricsToken !== undefined && (token === null || !secretsEqual(token, sources.metricsToken))) {
        throw new AppError(ErrorCode.UNAUTHENTICATED, 'GET /metrics needs "Authorization: Bearer <token>" with the token the control plane has in ATTACHE_METRICS_TOKEN.');
      }
      return;
    }
    const principal = await identify(request, sources);
    if (!principal) {
      throw new AppError(ErrorCode.UNAUTHENTICATED, 'Missing credentials: send "Authorization: Bearer <API key>", or sign in with POST /v1/session.');
    }
    // The actor before the checks: a refused attempt is recorded against who made it.
    request.actor = actorOf(principal, client);
    authorize(principal, access);
    // CSRF guards what a browser sends on its own (cookies); a bearer token is only ever sent on purpose.
    if (principal.kind === 'tenant' && principal.via.type === 'session' && principal.via.carrier === 'cookie') {
      checkCsrf(request.method, principal.via.secret, request.cookies[CSRF_COOKIE], request.headers[CSRF_HEADER]);
    }
    request.principal = principal;
  });
}

/** Throws FORBIDDEN naming the access the route needs, unless the principal has it. */
export function authorize(principal: Principal, access: Access): void {
  if (access === 'public' || access === 'metrics' || access === 'delegate' || access === 'sign-in' || access === 'signed-in') return;
  if (access === 'operator') {
    if (principal.kind === 'operator') return;
    throw new AppError(ErrorCode.FORBIDDEN, 'Only the operator key may manage tenants.', { requiredRole: 'operator' });
  }
  if (principal.kind === 'operator') {
    throw new AppError(ErrorCode.FORBIDDEN, 'This endpoint acts on a tenant: call it with a tenant API key or a user session, not the operator key.', {
      requiredRole: access,
    });
  }
  if (!roleAtLeast(principal.role, access)) {
    const holder = principal.via.type === 'apiKey' ? 'this API key has' : 'this user has';
    throw new AppError(ErrorCode.FORBIDDEN, `This needs the ${access} role (or higher); ${holder} ${principal.role}.`, {
      requiredRole: access,
      role: principal.role,
    });
  }
}

/** The session of a cookie-authenticated request, if that is how it signed in. */
export function sessionOf(request: FastifyRequest): { secret: string } | null {
  const p = request.principal;
  return p?.kind === 'tenant' && p.via.type === 'session' ? { secret: p.via.secret } : null;
}
