import type { FastifyRequest } from 'fastify';
import { parseBearer } from '../delegates/token-service.js';
import { AppError, ErrorCode } from '../errors.js';
import type { Tenant } from '../store/store.js';

// Credentials are checked, and roles compared with the route table, in access/access-control.ts.
export type { Actor, Principal } from './access/principal.js';

export function bearer(request: FastifyRequest): string | null {
  return parseBearer(request.headers.authorization);
}

export function requireTenant(request: FastifyRequest): Tenant {
  const p = request.principal;
  if (p?.kind === 'tenant') return p.tenant;
  throw new AppError(ErrorCode.FORBIDDEN, 'This endpoint acts on a tenant: call it with a tenant API key, not the operator key.');
}
