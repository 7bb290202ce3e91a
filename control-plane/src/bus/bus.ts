import type { TenantEvent } from '../events/event-types.js';

/**
 * Signals between the parts of the control plane, and later between replicas. The store is the
 * source of truth; the bus only says "look again": a message may be delivered to several replicas,
 * and losing one only costs latency (the sweeper and the next event catch up), never correctness.
 */
export interface BusEvents {
  /** A task entered the queue (new or requeued): replicas with idle eligible delegates claim it. */
  'task.queued': { tenantId: string; taskId: string; type: string; selectors: string[] };
  /** Many tasks entered the queue at once (a batch): replicas fill the tenant's idle delegates from the queue. */
  'tasks.queued': { tenantId: string; count: number };
  /** A task reached a terminal state: wake waiters (GET ?waitSeconds) and account recorders. */
  'task.ended': { tenantId: string; taskId: string; state: string };
  /** Stop the attempt on whichever replica holds the delegate's connection. */
  'task.cancel': { tenantId: string; taskId: string; attempt: number; delegateId: string; reason: string };
  /** Close every live connection that authenticated with this token. */
  'token.revoked': { tenantId: string; tokenId: string };
  /** A tenant's API keys or status changed (revoked, rotated, suspended): drop cached lookups. */
  'credentials.changed': { tenantId: string };
  /** Close every live delegate connection of the tenant (suspension). */
  'tenant.suspended': { tenantId: string };
  /**
   * A change a tenant's clients may follow (GET /v1/events): every replica buffers it and hands it
   * to the streams it serves. Lost, it costs a client a reset and a refetch, never state.
   */
  'tenant.event': { tenantId: string; event: TenantEvent };
}

export type BusTopic = keyof BusEvents;
export type Unsubscribe = () => void;

export interface Bus {
  readonly kind: string;
  publish<T extends BusTopic>(topic: T, message: BusEvents[T]): Promise<void>;
  subscribe<T extends BusTopic>(topic: T, handler: (message: BusEvents[T]) => void): Unsubscribe;
  close(): Promise<void>;
}
