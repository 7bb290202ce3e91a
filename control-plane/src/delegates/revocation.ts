import type { Bus } from '../bus/bus.js';
import { GoodbyeCode } from '@attache/proto';
import { REVOKED_MESSAGE } from './handshake.js';
import type { Goodbye } from './session-registry.js';

const SUSPENDED_MESSAGE = 'The tenant was suspended; the operator must resume it before its delegates can connect again.';

/** Closes connections by token or tenant (the session registry). */
export interface ConnectionCloser {
  closeToken(tokenId: string, goodbye: Goodbye): number;
  closeTenant(tenantId: string, goodbye: Goodbye): number;
}

/**
 * Revocations and suspensions are published on the bus by whichever replica served the API call;
 * every replica closes its own connections of that token or tenant, registered or in the handshake.
 */
export class Revocation {
  private unsubscribe: Array<() => void> | null = null;

  constructor(
    private readonly bus: Pick<Bus, 'subscribe'>,
    private readonly connections: ConnectionCloser,
  ) {}

  start(): void {
    this.unsubscribe ??= [
      this.bus.subscribe('token.revoked', (m) => this.tokenRevoked(m.tokenId)),
      this.bus.subscribe('tenant.suspended', (m) => this.tenantSuspended(m.tenantId)),
    ];
  }

  stop(): void {
    for (const off of this.unsubscribe ?? []) off();
    this.unsubscribe = null;
  }

  tokenRevoked(tokenId: string): number {
    return this.connections.closeToken(tokenId, { code: GoodbyeCode.TOKEN_REVOKED, message: REVOKED_MESSAGE });
  }

  tenantSuspended(tenantId: string): number {
    return this.connections.closeTenant(tenantId, { code: GoodbyeCode.TENANT_SUSPENDED, message: SUSPENDED_MESSAGE });
  }
}
