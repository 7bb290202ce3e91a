import type { DelegateConnection } from '../carriers/carrier.js';
import type { DelegateView } from '../tasks/eligibility.js';
import type { DelegateSession, LivePresence, SessionState } from './session.js';

/** A Goodbye: why the control plane closes a connection. */
export interface Goodbye {
  code: string;
  message: string;
  /** When to come back (Goodbye.retry_after_ms), set when the replica paces admissions. */
  retryAfterMs?: number;
}

export type SessionChangeListener = (session: DelegateSession, from: SessionState, to: SessionState) => void;

/**
 * The delegates connected to this replica, findable by delegate id, tenant and token. Connections
 * are tracked by token and tenant from the moment their token passed the first check (still in the
 * handshake, before a session exists) until they close, so a revocation or a suspension closes all
 * of them whatever phase they are in. Sessions join once registered and leave when unregistered.
 */
export class SessionRegistry {
  private readonly sessions = new Map<string, DelegateSession>();
  private readonly sessionsByTenant = new Map<string, Set<DelegateSession>>();
  private readonly byToken = new Map<string, Set<DelegateConnection>>();
  private readonly byTenant = new Map<string, Set<DelegateConnection>>();
  private readonly listeners: SessionChangeListener[] = [];

  /** Tracks a connection whose token passed, until it closes. */
  track(connection: DelegateConnection, owner: { tokenId: string; tenantId: string }): void {
    for (const [index, key] of [[this.byToken, owner.tokenId], [this.byTenant, owner.tenantId]] as const) {
      let set = index.get(key);
      if (!set) index.set(key, (set = new Set()));
      set.add(connection);
      connection.onClose(() => {
        set.delete(connection);
        if (set.size === 0 && index.get(key) === set) index.delete(key);
      });
    }
  }

  /** Closes every tracked connection of the token, registered or still in the handshake. */
  closeToken(tokenId: string, goodbye: Goodbye): number {
    return closeAll(this.byToken.get(tokenId), goodbye);
  }

  /** Closes every tracked connection of the tenant. */
  closeTenant(tenantId: string, goodbye: Goodbye): number {
    return closeAll(this.byTenant.get(tenantId), goodbye);
  }

  /**
   * Adds a registered session; returns the one it replaces (the same delegate instance whose old
   * connection still looked alive), which the caller closes and unregisters.
   */
  add(session: DelegateSession): DelegateSession | undefined {
    const previous = this.sessions.get(session.id);
    if (previous && previous !== session) this.remove(previous);
    this.sessions.set(session.id, session);
    let set = this.sessionsByTenant.get(session.tenantId);
    if (!set) this.sessionsByTenant.set(session.tenantId, (set = new Set()));
    set.add(session);
    for (const listener of this.listeners) session.onTransition(listener);
    return previous !== session ? previous : undefined;
  }

  /** Removes the session if it is still the current one of its delegate; false when it was not. */
  remove(session: DelegateSession): boolean {
    if (this.sessions.get(session.id) !== session) return false;
    this.sessions.delete(session.id);
    const set = this.sessionsByTenant.get(session.tenantId);
    set?.delete(session);
    if (set?.size === 0) this.sessionsByTenant.delete(session.tenantId);
    return true;
  }

  get(delegateId: string): DelegateSession | undefined {
    return this.sessions.get(delegateId);
  }

  /** This replica's sessions, of one tenant or all. */
  local(tenantId?: string): DelegateSession[] {
    if (tenantId === undefined) return [...this.sessions.values()];
    return [...(this.sessionsByTenant.get(tenantId) ?? [])];
  }

  /**
   * Every move of every session added from now on: the hook for publishing delegate presence
   * (connected, draining, disconnected) to the event stream.
   */
  onChange(listener: SessionChangeListener): void {
    this.listeners.push(listener);
  }

  // The narrow views other parts see, so nobody outside delegates/ reaches into a session.

  /** What this replica knows live of a delegate, or undefined when another replica holds it. */
  live(delegateId: string): LivePresence | undefined {
    return this.sessions.get(delegateId)?.presence();
  }

  /** The routing view of a delegate connected here. */
  liveView(delegateId: string): DelegateView | undefined {
    return this.sessions.get(delegateId)?.view();
  }

  /** The routing views of the tenant's delegates connected here. */
  localViews(tenantId: string): DelegateView[] {
    return this.local(tenantId).map((s) => s.view());
  }

  /** True when a delegate connected here holds this attempt: its heartbeats keep the lease alive. */
  holdsAttempt(delegateId: string, taskId: string, attempt: number): boolean {
    return this.sessions.get(delegateId)?.holds(taskId, attempt) ?? false;
  }
}

function closeAll(connections: ReadonlySet<DelegateConnection> | undefined, goodbye: Goodbye): number {
  const all = [...(connections ?? [])];
  for (const connection of all) connection.close(goodbye);
  return all.length;
}
