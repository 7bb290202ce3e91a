import type { Role } from '../../identity/roles.js';
import type { ActorRecord } from '../../store/audit-records.js';
import type { ApiKeyRecord, SessionRecord, Tenant, UserRecord } from '../../store/store.js';

/** Who is calling, as credentials proved it. */
export type Principal =
  | { kind: 'operator' }
  | {
      kind: 'tenant';
      tenant: Tenant;
      role: Role;
      via: { type: 'apiKey'; key: ApiKeyRecord } | {
            type: 'session';
            user: UserRecord;
            session: SessionRecord;
            secret: string;
            /** How the session came: the console's cookie (CSRF-checked) or a bearer token (the CLI's). */
            carrier: 'cookie' | 'bearer';
          };
    };

/**
 * The party behind a request, in the shape the audit trail records: set on every request in one
 * place (api/access/access-control.ts), anonymous until credentials are checked.
 */
export type Actor = ActorRecord;

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    actor: Actor;
  }
}

export function actorOf(principal: Principal | undefined, client: { address: string; userAgent: string | null }): Actor {
  const base = { clientAddress: client.address, userAgent: client.userAgent };
  if (!principal) return { ...base, who: { type: 'anonymous' }, tenantId: null, role: null };
  if (principal.kind === 'operator') return { ...base, who: { type: 'operator' }, tenantId: null, role: 'operator' };
  const who =
    principal.via.type === 'apiKey'
      ? ({ type: 'apiKey', id: principal.via.key.id, name: principal.via.key.name } as const)
      : ({ type: 'user', id: principal.via.user.id, email: principal.via.user.email } as const);
  return { ...base, who, tenantId: principal.tenant.id, role: principal.role };
}
