import type { FastifyRequest } from 'fastify';
import { AppError, ErrorCode } from '../../errors.js';
import type { ApiKeyService } from '../../identity/api-key-service.js';
import { SESSION_PREFIX, type SessionService } from '../../identity/session-service.js';
import { secretsEqual } from '../../security/secrets.js';
import { bearer } from '../auth.js';
import type { Principal } from './principal.js';
import type { SessionCookies } from './session-cookies.js';

export interface CredentialSources {
  operatorKey: string;
  /** When set, GET /metrics needs it as a bearer token (ATTACHE_METRICS_TOKEN). */
  metricsToken?: string | undefined;
  apiKeys: ApiKeyService;
  sessions: SessionService;
  cookies: SessionCookies;
}

/**
 * The caller's credentials, checked: a bearer token first (the operator key, a user session, which
 * the CLI holds after a browser sign-in, or a tenant API key), else the session cookie. Null when the request carries neither; an error when what it carries is
 * not valid (unknown, expired, revoked, suspended), so the client learns why.
 */
export async function identify(request: FastifyRequest, sources: CredentialSources): Promise<Principal | null> {
  const token = bearer(request);
  if (token) {
    if (secretsEqual(token, sources.operatorKey)) return { kind: 'operator' };
    if (token.startsWith(SESSION_PREFIX)) {
      const { tenant, user, session } = await sources.sessions.resolve(token);
      return { kind: 'tenant', tenant, role: user.role, via: { type: 'session', user, session, secret: token, carrier: 'bearer' } };
    }
    const found = await sources.apiKeys.resolve(token);
    if (!found) throw new AppError(ErrorCode.UNAUTHENTICATED, 'The API key is not valid. Check it, or ask a tenant admin (or the operator) for a new one.');
    return { kind: 'tenant', tenant: found.tenant, role: found.key.role, via: { type: 'apiKey', key: found.key } };
  }
  const secret = sources.cookies.session(request);
  if (!secret) return null;
  const { tenant, user, session } = await sources.sessions.resolve(secret);
  return { kind: 'tenant', tenant, role: user.role, via: { type: 'session', user, session, secret, carrier: 'cookie' } };
}
