import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { assignBytes, ControlFrameSchema, splitBatches, type Assign, type AssignSchema, type ControlFrame } from '@attache/proto';
import type { DelegateConnection } from '../carriers/carrier.js';
import { newId } from '../ids.js';
import type { ClaimingDelegate, TaskRecord } from '../store/store.js';
import type { DelegateView } from '../tasks/eligibility.js';

export interface HeldTask {
  attempt: number;
  /** Task type, so a result can be decoded without reading the task back. */
  type: string;
  accepted: boolean;
  /** Fires when an Assign is not Accepted in time. */
  ackTimer: NodeJS.Timeout | null;
  /** The task as it was assigned (for the running event when its write is deferred). */
  task?: TaskRecord;
  /** When the delegate accepted the attempt. */
  startedAt?: Date;
  /** Fires when an accepted attempt has run long enough to be written as running. */
  runningTimer?: NodeJS.Timeout | null;
  /** Its running event has been published (at the running write, or just before its end). */
  runningAnnounced?: boolean;
  /**
   * The delegate's Result arrived but the store could not record it yet (an outage): the control
   * plane keeps it and retries, and the delegate, which has let go of the task, no longer lists it.
   */
  resultPending?: boolean;
}

export interface LivePresence {
  status: 'connected' | 'draining' | 'disconnected';
  inFlight: number;
  lastHeartbeatAt: Date;
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

/**
 * Where a session is in its life. `registering`: in the registry (so re-adopted tasks and early
 * results find it) but Welcome not yet sent, so no Assign may go out and no slot is offered.
 * `connected`: takes work. `draining`: finishes what it holds, takes nothing new. `closed`: gone.
 */
export type SessionState = 'registering' | 'connected' | 'draining' | 'closed';

/** The only moves a session makes; anything else is a bug in the caller, not a race. */
const MOVES: Readonly<Record<SessionState, readonly SessionState[]>> = {
  registering: ['connected', 'closed'],
  connected: ['draining', 'closed'],
  draining: ['closed'],
  closed: [],
};

export class SessionTransitionError extends Error {
  readonly code = 'SESSION_TRANSITION_REFUSED';
  constructor(from: SessionState, to: SessionState) {
    super(`A delegate session cannot move from ${from} to ${to}; allowed from ${from}: ${MOVES[from].join(', ') || 'none'}.`);
  }
}

type TransitionListener = (session: DelegateSession, from: SessionState, to: SessionState) => void;

/** An Assign as the dispatcher builds it. */
export type AssignInit = MessageInitShape<typeof AssignSchema> & Pick<Assign, 'taskId' | 'type' | 'payload'>;

/** What one sendAssigns call put on the wire. */
export interface AssignsSent {
  /** Assignments the connection took, from the first: the rest were not sent (it is closed). */
  sent: number;
  /** Frames they went in: Assign frames, and AssignBatch frames with their sizes. */
  singles: number;
  batches: number[];
}

/** One registered delegate connection on this replica, with the tasks it holds. */
export class DelegateSession {
  readonly held = new Map<string, HeldTask>();
  /** This connection, as recorded with the delegate: a newer connection of the delegate replaces it. */
  readonly sessionId = newId('ses');
  readonly connectedAt = new Date();
  lastHeartbeatAt = new Date();
  private current: SessionState = 'registering';
  private readonly listeners: TransitionListener[] = [];
  /**
   * Claims in flight for this session. A slot is taken before the store is asked, not when the claim
   * returns: otherwise several wake-ups arriving together (task.queued from every replica, a pump)
   * all see the same free slot across their awaits and over-assign past max_concurrency.
   */
  private claiming = 0;

  /**
   * @param assignsPerFrame Assigns one frame may carry to this delegate: the least of what its Hello
   *   announced (max_batch_items) and this replica's limit (ATTACHE_DELEGATE_BATCH_ITEMS); 1 or less
   *   (a delegate that predates batches): one Assign frame each.
   */
  constructor(
    readonly identity: SessionIdentity,
    private readonly connection: DelegateConnection,
    readonly assignsPerFrame = 1,
  ) {}

  get state(): SessionState {
    return this.current;
  }

  /**
   * Moves from `from` to `to`. False when the session is no longer in `from` (another event moved
   * it first: a benign race, the caller's move is moot); throws when the move itself is not one a
   * session makes.
   */
  transition(from: SessionState, to: SessionState): boolean {
    if (!MOVES[from].includes(to)) throw new SessionTransitionError(from, to);
    if (this.current !== from) return false;
    this.current = to;
    for (const listener of this.listeners) listener(this, from, to);
    return true;
  }

  /** Ends the session from whatever state it is in; false when it already was closed. */
  end(): boolean {
    return this.current !== 'closed' && this.transition(this.current, 'closed');
  }

  /** Called after every accepted move (presence events hook in here, through the registry). */
  onTransition(listener: TransitionListener): void {
    this.listeners.push(listener);
  }

  get closed(): boolean {
    return this.current === 'closed';
  }

  /** The status listings show: a registering session is connected as far as anyone outside can tell. */
  get status(): 'connected' | 'draining' | 'disconnected' {
    return this.current === 'draining' ? 'draining' : this.current === 'closed' ? 'disconnected' : 'connected';
  }

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
    return this.current === 'connected' ? Math.max(0, this.identity.maxConcurrency - this.held.size - this.claiming) : 0;
  }
  get load(): number {
    return (this.held.size + this.claiming) / this.identity.maxConcurrency;
  }

  /** True while this session holds `attempt` of the task (not a superseded or later one). */
  holds(taskId: string, attempt: number): boolean {
    return this.held.get(taskId)?.attempt === attempt;
  }

  /** What this replica knows live, fresher than the stored row: see delegates/presence.ts. */
  presence(): LivePresence {
    return { status: this.status, inFlight: this.inFlight, lastHeartbeatAt: this.lastHeartbeatAt };
  }

  /** Takes a free slot for a claim about to be made; false when there is none. */
  reserve(): boolean {
    if (this.free <= 0) return false;
    this.claiming++;
    return true;
  }

  /** Takes up to `count` free slots for one claim of several tasks; how many it took. */
  reserveUpTo(count: number): number {
    const taken = Math.max(0, Math.min(count, this.free));
    this.claiming += taken;
    return taken;
  }

  /** The claim settled: the slots are either held (assigned) or free again. */
  unreserve(count = 1): void {
    this.claiming = Math.max(0, this.claiming - count);
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

  /**
   * Sends assignments in order: in AssignBatch frames (bounded by `assignsPerFrame` and
   * BATCH_LIMITS.maxBytes) when the delegate takes them, else, and for an assignment alone in its
   * frame, as Assign frames, exactly as to a delegate that predates batches.
   */
  sendAssigns(assigns: readonly AssignInit[]): AssignsSent {
    const out: AssignsSent = { sent: 0, singles: 0, batches: [] };
    const frames = this.assignsPerFrame > 1 ? splitBatches(assigns, this.assignsPerFrame, assignBytes) : assigns.map((a) => [a]);
    for (const frame of frames) {
      const ok =
        frame.length === 1 ? this.send({ case: 'assign', value: frame[0]! }) : this.send({ case: 'assignBatch', value: { assigns: frame } });
      if (!ok) break;
      out.sent += frame.length;
      if (frame.length === 1) out.singles++;
      else out.batches.push(frame.length);
    }
    return out;
  }

  close(code: string, message: string): void {
    this.connection.close({ code, message });
  }

  release(taskId: string): HeldTask | undefined {
    const held = this.held.get(taskId);
    if (held?.ackTimer) clearTimeout(held.ackTimer);
    if (held?.runningTimer) clearTimeout(held.runningTimer);
    this.held.delete(taskId);
    return held;
  }
}
