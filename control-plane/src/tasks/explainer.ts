import { assess, couldEverTake, explain, type DelegateView, type Ineligibility, type TaskRequirements } from './eligibility.js';

/** The tenant's connected delegates by the one presence rule (delegates/presence.ts). */
export interface ConnectedDelegates {
  connectedViews(tenantId: string): Promise<DelegateView[]>;
}

/** The routing views of the tenant's delegates connected to this replica (the session registry). */
export interface LocalDelegates {
  localViews(tenantId: string): DelegateView[];
}

/**
 * Explains routing decisions from the view of a tenant's connected delegates: presence across all
 * replicas, with the live load of the ones connected here.
 */
export class DelegateExplainer {
  constructor(
    private readonly presence: ConnectedDelegates,
    private readonly local: LocalDelegates,
  ) {}

  connected(tenantId: string): Promise<DelegateView[]> {
    return this.presence.connectedViews(tenantId);
  }

  /** Each connected delegate with the reasons it cannot take the task now (none: eligible). */
  async assess(tenantId: string, task: TaskRequirements): Promise<Ineligibility[]> {
    return assess(await this.connected(tenantId), task);
  }

  async explain(tenantId: string, task: TaskRequirements): Promise<Ineligibility[]> {
    return explain(await this.connected(tenantId), task);
  }

  /** True when at least one connected delegate could take the task once it has room. */
  async anyCouldTake(tenantId: string, task: TaskRequirements): Promise<{ possible: boolean; ineligible: Ineligibility[] }> {
    // Fast path: a delegate connected here that could take it settles the question without a query.
    if (this.local.localViews(tenantId).some((d) => couldEverTake(d, task))) return { possible: true, ineligible: [] };
    const delegates = await this.connected(tenantId);
    return { possible: delegates.some((d) => couldEverTake(d, task)), ineligible: explain(delegates, task) };
  }

  advice(ineligible: Ineligibility[]): string {
    if (ineligible.length === 0) return 'No delegate of this tenant is connected: start one with a token of this tenant.';
    return 'See details.delegates for why each connected delegate was not eligible; add the missing tags or start a delegate that has them.';
  }
}
