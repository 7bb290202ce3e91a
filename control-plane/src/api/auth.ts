import type { FastifyRequest } from 'fastify';
import { AppError, ErrorCode } from '../errors.js';
import { secretsEqual } from '../security/secrets.js';
import type { Tenant } from '../store/store.js';
import type { TenantService } from '../tenancy/tenant-service.js';

export type Principal = { kind: 'operator' } | { kind: 'tenant'; tenant: Tenant };

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  return match?.[1] ?? null;
}

/** Resolves the caller: the operator key, or a tenant API key (looked up by its hash). */
export async function authenticate(request: FastifyRequest, operatorKey: string, tenants: TenantService): Promise<Principal> {
  const token = bearer(request);
  if (!token) {
    throw new AppError(ErrorCode.UNAUTHENTICATED, 'Missing credentials: send "Authorization: Bearer <API key>".');
  }
  if (secretsEqual(token, operatorKey)) return { kind: 'operator' };
  const tenant = await tenants.byApiKey(token);
  if (!tenant) throw new AppError(ErrorCode.UNAUTHENTICATED, 'The API key is not valid. Check it, or ask the operator for a new one.');
  return { kind: 'tenant', tenant };
}

export function requireTenant(request: FastifyRequest): Tenant {
  const p = request.principal;
  if (p?.kind === 'tenant') return p.tenant;
  throw new AppError(ErrorCode.FORBIDDEN, 'This endpoint acts on a tenant: call it with a tenant API key, not the operator key.');
}

export function requireOperator(request: FastifyRequest): void {
  if (request.principal?.kind !== 'operator') {
    throw new AppError(ErrorCode.FORBIDDEN, 'Only the operator key may manage tenants.');
  }
}
