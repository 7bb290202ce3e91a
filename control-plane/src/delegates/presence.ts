import type { DelegateRecord, ListPage, Store } from '../store/store.js';
import type { DelegateView } from '../tasks/eligibility.js';
import type { LivePresence } from './session.js';

/** What presence needs of this replica's sessions (the session registry provides it). */
export interface LiveDelegates {
  live(delegateId: string): LivePresence | undefined;
  liveView(delegateId: string): DelegateView | undefined;
}

/** A stored delegate row with the presence every listing shows for it. */
export interface DelegatePresence {
  row: DelegateRecord;
  presence: LivePresence;
}

/**
 * Whether a delegate is connected, one rule for every route and for routing explanations: a
 * delegate connected to this replica shows what its session knows now (fresher than the last
 * heartbeat written); one held by another replica shows its stored row while heartbeats keep the
 * row fresh. A row not refreshed for `staleAfterMs` belongs to a replica that died without
 * cleaning up, and shows as disconnected, with nothing in flight.
 */
export class Presence {
  constructor(
    private readonly store: Pick<Store, 'listDelegates'>,
    private readonly live: LiveDelegates,
    private readonly staleAfterMs: number,
  ) {}

  /** The one staleness rule. */
  isStale(row: Pick<DelegateRecord, 'status' | 'lastHeartbeatAt'>, now = Date.now()): boolean {
    return row.status !== 'disconnected' && now - row.lastHeartbeatAt.getTime() > this.staleAfterMs;
  }

  of(row: DelegateRecord, now = Date.now()): LivePresence {
    const live = this.live.live(row.id);
    if (live) return live;
    if (this.isStale(row, now)) return { status: 'disconnected', inFlight: 0, lastHeartbeatAt: row.lastHeartbeatAt };
    return { status: row.status, inFlight: row.inFlight, lastHeartbeatAt: row.lastHeartbeatAt };
  }

  /** The tenant's delegates (connected, and disconnected since `disconnectedSince`), each with its presence. */
  async list(tenantId: string, disconnectedSince: Date, page?: ListPage<string>): Promise<DelegatePresence[]> {
    const rows = await this.store.listDelegates(tenantId, disconnectedSince, page);
    const now = Date.now();
    return rows.map((row) => ({ row, presence: this.of(row, now) }));
  }

  /** The routing views of the tenant's delegates that are connected or draining by this rule. */
  async connectedViews(tenantId: string): Promise<DelegateView[]> {
    const listed = await this.list(tenantId, new Date(8.64e15));
    return listed
      .filter(({ presence }) => presence.status !== 'disconnected')
      .map(({ row, presence }) => this.live.liveView(row.id) ?? {
        id: row.id,
        name: row.name,
        tags: row.tags,
        taskTypes: row.taskTypes,
        status: presence.status,
        inFlight: presence.inFlight,
        maxConcurrency: row.maxConcurrency,
      });
  }
}
