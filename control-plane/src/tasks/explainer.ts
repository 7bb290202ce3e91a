import type { Store } from '../store/store.js';
import type { Dispatcher } from './dispatcher.js';
import { couldEverTake, explain, type DelegateView, type Ineligibility, type TaskRequirements } from './eligibility.js';

/**
 * Builds the view of a tenant's connected delegates that routing decisions are explained with.
 * Presence comes from the store (all replicas); live load of local sessions overrides it because
 * it is fresher than the last heartbeat.
 */
export class DelegateExplainer {
  constructor(
    private readonly store: Store,
    private readonly dispatcher: Dispatcher,
    /** A row not refreshed by a heartbeat for this long belongs to a replica that died without cleaning up. */
    private readonly staleAfterMs: number = 30_000,
  ) {}

  async connected(tenantId: string): Promise<DelegateView[]> {
    const rows = await this.store.listDelegates(tenantId, new Date(8.64e15));
    const freshSince = Date.now() - this.staleAfterMs;
    return rows
      .filter((r) => r.status !== 'disconnected' && (this.dispatcher.session(r.id) || r.lastHeartbeatAt.getTime() >= freshSince))
      .map((r) => {
        const local = this.dispatcher.session(r.id);
        return local
          ? local.view()
          : { id: r.id, name: r.name, tags: r.tags, taskTypes: r.taskTypes, status: r.status, inFlight: r.inFlight, maxConcurrency: r.maxConcurrency };
      });
  }

  async explain(tenantId: string, task: TaskRequirements): Promise<Ineligibility[]> {
    return explain(await this.connected(tenantId), task);
  }

  /** True when at least one connected delegate could take the task once it has room. */
  async anyCouldTake(tenantId: string, task: TaskRequirements): Promise<{ possible: boolean; ineligible: Ineligibility[] }> {
    // Fast path: a delegate connected here that could take it settles the question without a query.
    if (this.dispatcher.localSessions(tenantId).some((s) => couldEverTake(s.view(), task))) return { possible: true, ineligible: [] };
    const delegates = await this.connected(tenantId);
    return { possible: delegates.some((d) => couldEverTake(d, task)), ineligible: explain(delegates, task) };
  }

  advice(ineligible: Ineligibility[]): string {
    if (ineligible.length === 0) return 'No delegate of this tenant is connected: start one with a token of this tenant.';
    return 'See details.delegates for why each connected delegate was not eligible; add the missing tags or start a delegate that has them.';
  }
}
