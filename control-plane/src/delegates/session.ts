import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { ControlFrameSchema, type ControlFrame } from '@attache/proto';
import type { DelegateConnection } from '../carriers/carrier.js';
import { newId } from '../ids.js';
import type { ClaimingDelegate } from '../store/store.js';
import type { DelegateView } from '../tasks/eligibility.js';

export interface HeldTask {
  attempt: number;
  /** Task type, so a result can be decoded without reading the task back. */
  type: string;
  accepted: boolean;
  /** Fires when an Assign is not Accepted in time. */
  ackTimer: NodeJS.Timeout | null;
  /**
   * The delegate's Result arrived but the store could not record it yet (an outage): the control
   * plane keeps it and retries, and the delegate, which has let go of the task, no longer lists it.
   */
  resultPending?: boolean;
}

export interface SessionIdentity {
  id: string;
  tenantId: string;
  tokenId: string;
  name: string;
  instanceId: string;
  /** Declared tags plus the delegate's own name. */
  tags: string[];
  taskTypes: string[];
  maxConcurrency: number;
  version: string;
}

/** One registered delegate connection on this replica, with the tasks it holds. */
export class DelegateSession {
  readonly held = new Map<string, HeldTask>();
  /** This connection, as recorded with the delegate: a newer connection of the delegate replaces it. */
  readonly sessionId = newId('ses');
  readonly connectedAt = new Date();
  status: 'connected' | 'draining' = 'connected';
  lastHeartbeatAt = new Date();
  closed = false;
  /**
   * Set once Welcome has gone out. The session is in the dispatcher's map from registration on (so
   * re-adopted tasks and early results find it), but a task.queued wake-up arriving meanwhile must
   * not send an Assign before Welcome, nor fill slots the re-adopted tasks are about to take.
   */
  welcomed = false;
  /**
   * Claims in flight for this session. A slot is taken before the store is asked, not when the claim
   * returns: otherwise several wake-ups arriving together (task.queued from every replica, a pump)
   * all see the same free slot across their awaits and over-assign past max_concurrency.
   */
  private claiming = 0;

  constructor(
    readonly identity: SessionIdentity,
    private readonly connection: DelegateConnection,
  ) {}

  get id(): string {
    return this.identity.id;
  }
  get tenantId(): string {
    return this.identity.tenantId;
  }
  get transport(): string {
    return this.connection.transport;
  }
  get inFlight(): number {
    return this.held.size;
  }
  /** Slots it can take new work into right now. */
  get free(): number {
    return this.status === 'connected' && !this.closed && this.welcomed ? Math.max(0, this.identity.maxConcurrency - this.held.size - this.claiming) : 0;
  }
  get load(): number {
    return (this.held.size + this.claiming) / this.identity.maxConcurrency;
  }

  /** Takes a free slot for a claim about to be made; false when there is none. */
  reserve(): boolean {
    if (this.free <= 0) return false;
    this.claiming++;
    return true;
  }

  /** The claim settled: the slot is either held (assigned) or free again. */
  unreserve(): void {
    this.claiming = Math.max(0, this.claiming - 1);
  }

  claimant(): ClaimingDelegate {
    return { id: this.id, tenantId: this.tenantId, tags: this.identity.tags, taskTypes: this.identity.taskTypes };
  }

  view(): DelegateView {
    return {
      id: this.id,
      name: this.identity.name,
      tags: this.identity.tags,
      taskTypes: this.identity.taskTypes,
      status: this.status,
      inFlight: this.inFlight,
      maxConcurrency: this.identity.maxConcurrency,
    };
  }

  send(frame: NonNullable<MessageInitShape<typeof ControlFrameSchema>['frame']>): boolean {
    return this.connection.send(create(ControlFrameSchema, { frame }) as ControlFrame);
  }

  close(code: string, message: string): void {
    this.connection.close({ code, message });
  }

  release(taskId: string): HeldTask | undefined {
    const held = this.held.get(taskId);
    if (held?.ackTimer) clearTimeout(held.ackTimer);
    this.held.delete(taskId);
    return held;
  }
}
