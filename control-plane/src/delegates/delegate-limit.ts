import type { Store } from '../store/store.js';

/** How long a tenant's counted delegates stand in for the count, while far from the limit. */
const COUNT_FRESH_MS = 1_000;

export interface DelegateLimitCheck {
  within: boolean;
  /** The connected delegates counted (exact when `within` is false). */
  connected: number;
}

/**
 * A tenant's limit of connected delegates (ATTACHE_MAX_DELEGATES_PER_TENANT), checked for every
 * handshake. Counting the tenant's connected rows costs time in proportion to how many there are,
 * so a storm of 10,000 registrations would count 10,000 times over a growing table: the count is
 * read once and, for a second, each admission adds one to it instead. Whenever that estimate comes
 * near the limit, the store is counted again, so a delegate is only ever refused on an exact count.
 * Across replicas the limit was soft already (two registering at once may both fit); the estimate
 * keeps it as soft as that for a second, and no softer on this replica.
 */
export class DelegateLimit {
  private readonly counted = new Map<string, { connected: number; admittedSince: number; at: number }>();
  /** Counts running now, by tenant: handshakes that need one meanwhile share it. */
  private readonly counting = new Map<string, Promise<number>>();

  constructor(
    private readonly store: Pick<Store, 'countConnectedDelegates'>,
    private readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether delegate `delegateId` (not counted itself: it may be reconnecting) fits the tenant's limit. */
  async check(tenantId: string, delegateId: string): Promise<DelegateLimitCheck> {
    const fast = this.estimated(tenantId);
    if (fast) return fast;
    // A storm's handshakes find the estimate stale together. While one of them counts, the others
    // wait for that count and decide from the estimate it refreshes; only near the limit does each
    // count on its own, so nobody is refused on an estimate.
    const running = this.counting.get(tenantId);
    if (running) {
      await running.catch(() => undefined);
      const after = this.estimated(tenantId);
      if (after) return after;
    }
    const now = this.now();
    const connected = await this.count(tenantId, delegateId);
    const within = connected < this.limit;
    this.counted.set(tenantId, { connected, admittedSince: within ? 1 : 0, at: now });
    // Tenants that stop connecting leave nothing behind for long.
    if (this.counted.size > 10_000) this.evict(now);
    return { within, connected };
  }

  /** Admitted on the recent count plus those admitted since, when that leaves room to spare. */
  private estimated(tenantId: string): DelegateLimitCheck | undefined {
    const cached = this.counted.get(tenantId);
    if (!cached || this.now() - cached.at >= COUNT_FRESH_MS) return undefined;
    const estimate = cached.connected + cached.admittedSince;
    // Room for this one and a margin for the handshakes counting alongside it: no exact count needed.
    if (estimate + 1 >= this.limit) return undefined;
    cached.admittedSince++;
    return { within: true, connected: estimate };
  }

  private count(tenantId: string, delegateId: string): Promise<number> {
    const counting = this.store.countConnectedDelegates(tenantId, delegateId).finally(() => {
      if (this.counting.get(tenantId) === counting) this.counting.delete(tenantId);
    });
    this.counting.set(tenantId, counting);
    return counting;
  }

  private evict(now: number): void {
    for (const [tenantId, c] of this.counted) if (now - c.at >= COUNT_FRESH_MS) this.counted.delete(tenantId);
  }
}
