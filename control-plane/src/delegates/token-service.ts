import type { Bus } from '../bus/bus.js';
import { notFound } from '../errors.js';
import { newId } from '../ids.js';
import { hashSecret, KEY_PREFIX, newSecret } from '../security/secrets.js';
import type { DelegateToken, ListPage, Store, Tenant } from '../store/store.js';
import { normaliseTags } from '../tasks/eligibility.js';

/**
 * The credential of an `Authorization: Bearer <credential>` header, or null when there is none. The
 * one parser for every place a bearer arrives: the API (keys, metrics token, NATS credentials) and
 * the delegate carriers (gRPC metadata, WebSocket upgrade). The scheme is case-insensitive (RFC 9110
 * §11.1); anything but exactly one credential after it is no bearer at all.
 */
export function parseBearer(header: string | null | undefined): string | null {
  if (!header) return null;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? null;
}

/** What `verify()` found: the token, or why it does not let a delegate in. */
export type TokenCheck =
  | { ok: true; token: DelegateToken; hash: string }
  | { ok: false; refusal: 'missing' | 'unknown' }
  | { ok: false; refusal: 'suspended'; tenant: Tenant };

/** The part of the token service a delegate entrance needs. */
export type TokenVerifier = Pick<DelegateTokenService, 'verify'>;

/**
 * Delegate tokens: shown once at creation, stored hashed. Revocation is published on the bus so
 * every replica closes the token's live connections at once, registered or still in the
 * handshake (delegates/connection-handler.ts), not at their next reconnect.
 */
export class DelegateTokenService {
  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
  ) {}

  /**
   * `binding.group` and `binding.tags` bind the token (see delegates/token-binding.ts); each is
   * null when not given.
   */
  async create(
    tenantId: string,
    name: string,
    binding: { group?: string | undefined; tags?: readonly string[] | undefined } = {},
  ): Promise<{ record: DelegateToken; token: string }> {
    const token = newSecret(KEY_PREFIX.delegateToken);
    const record: DelegateToken = {
      id: newId('tok'),
      tenantId,
      name,
      hash: hashSecret(token),
      createdAt: new Date(),
      revokedAt: null,
      group: binding.group ?? null,
      tags: binding.tags ? normaliseTags(binding.tags) : null,
    };
    await this.store.createDelegateToken(record);
    return { record, token };
  }

  /**
   * The check every delegate entrance makes first (each carrier's handshake, NATS credentials): the
   * token exists, is not revoked, belongs to `boundTenantId` when the carrier already bound the
   * connection to a tenant, and its tenant is not suspended.
   */
  async verify(token: string | null, boundTenantId?: string): Promise<TokenCheck> {
    if (!token) return { ok: false, refusal: 'missing' };
    const hash = hashSecret(token);
    const record = await this.store.findDelegateTokenByHash(hash);
    if (!record || record.revokedAt || (boundTenantId !== undefined && boundTenantId !== record.tenantId)) return { ok: false, refusal: 'unknown' };
    const tenant = await this.store.getTenant(record.tenantId);
    if (tenant?.status === 'suspended') return { ok: false, refusal: 'suspended', tenant };
    return { ok: true, token: record, hash };
  }

  list(tenantId: string, page?: ListPage<Date>): Promise<DelegateToken[]> {
    return this.store.listDelegateTokens(tenantId, page);
  }

  async revoke(tenantId: string, id: string): Promise<DelegateToken> {
    const record = await this.store.revokeDelegateToken(tenantId, id, new Date());
    if (!record) throw notFound('delegate token', id);
    await this.bus.publish('token.revoked', { tenantId, tokenId: id });
    return record;
  }
}
