import type { Bus } from '../bus/bus.js';
import { notFound } from '../errors.js';
import { newId } from '../ids.js';
import { hashSecret, KEY_PREFIX, newSecret } from '../security/secrets.js';
import type { DelegateToken, ListPage, Store } from '../store/store.js';
import { normaliseTags } from '../tasks/eligibility.js';

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
