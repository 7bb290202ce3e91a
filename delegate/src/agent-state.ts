/**
 * The life of a delegate, explicit so that health checks, logs and tests talk about the same thing:
 *
 *   idle ─start()→ connecting ─Welcome→ registered ─stream lost→ reconnecting ─Welcome→ registered
 *                      │                    │                          │
 *                      └──── drain() / SIGTERM ──→ draining ──results delivered──→ stopping → stopped
 *                      └──── stop(), fatal refusal ─────────────────────────────→ stopping → stopped
 *
 * `draining` keeps reconnecting when the stream drops, because results still have to be delivered;
 * `stopping` is the short way out (the connection closes, the connect loop ends). `connected` on the
 * agent tells whether a registered stream is up right now.
 */
export type AgentState = 'idle' | 'connecting' | 'registered' | 'reconnecting' | 'draining' | 'stopping' | 'stopped';

export interface AgentStopInfo {
  /**
   * `drained`: graceful drain; `stopped`: stop() called; `fatal`: the control plane refused the
   * token for good; `misconfigured`: it refused this delegate's own configuration (its name or
   * tags are not allowed for its token), which only a change of configuration fixes.
   */
  reason: 'drained' | 'stopped' | 'fatal' | 'misconfigured';
  /**
   * For `fatal` and `misconfigured`: the Goodbye or carrier status code (TOKEN_REVOKED,
   * UNAUTHENTICATED, PERMISSION_DENIED; GROUP_NOT_ALLOWED, TAGS_NOT_ALLOWED).
   */
  code?: string;
  message?: string;
}

/** Every move the agent may make; anything else is refused. One table, so the diagram above has one source. */
const MOVES: Readonly<Record<AgentState, readonly AgentState[]>> = {
  idle: ['connecting', 'stopping', 'stopped'],
  connecting: ['registered', 'reconnecting', 'draining', 'stopping', 'stopped'],
  registered: ['reconnecting', 'draining', 'stopping', 'stopped'],
  reconnecting: ['registered', 'draining', 'stopping', 'stopped'],
  draining: ['stopping', 'stopped'],
  stopping: ['stopped'],
  stopped: [],
};

/**
 * The agent's one state field. Moves go through `moveTo`, which refuses a move the table does not
 * allow (a Welcome while draining does not make the agent `registered` again; nothing leaves
 * `stopped`), so no caller can put the agent in a state its diagram does not have.
 */
export class AgentStateMachine {
  private current: AgentState = 'idle';
  private info: AgentStopInfo | undefined;

  constructor(private readonly onChange: (next: AgentState, previous: AgentState) => void = () => undefined) {}

  get state(): AgentState {
    return this.current;
  }

  /** Why the agent stopped; set exactly when the state is `stopped`. */
  get stopInfo(): AgentStopInfo | undefined {
    return this.info;
  }

  /** On its way out (`stopping` or `stopped`): no reconnects, no new work. */
  get closing(): boolean {
    return this.current === 'stopping' || this.current === 'stopped';
  }

  /** Whether new tasks are taken: not while draining, stopping or stopped. */
  get acceptsWork(): boolean {
    return this.current !== 'draining' && !this.closing;
  }

  canMove(to: AgentState): boolean {
    return MOVES[this.current].includes(to);
  }

  /** Moves to `to` when the table allows it from the current state; returns whether it moved. */
  moveTo(to: Exclude<AgentState, 'stopped'>): boolean {
    return this.move(to);
  }

  /** The one way into `stopped`, with why; refused (false) when already stopped. */
  stop(info: AgentStopInfo): boolean {
    if (!this.canMove('stopped')) return false;
    this.info = info;
    return this.move('stopped');
  }

  private move(to: AgentState): boolean {
    if (!this.canMove(to)) return false;
    const previous = this.current;
    this.current = to;
    this.onChange(to, previous);
    return true;
  }
}
