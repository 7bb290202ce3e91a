import type { Bus } from '../bus/bus.js';
import type { DelegateSession } from '../delegates/session.js';

/** Finds a delegate connected to this replica (the session registry). */
export interface SessionLookup {
  get(delegateId: string): DelegateSession | undefined;
}

/**
 * Cancellations (an API cancel, a run timeout) are published on the bus by whichever replica
 * decided them; the replica holding the delegate's connection sends the Cancel, if the delegate
 * still runs that attempt.
 */
export class CancelRelay {
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly bus: Pick<Bus, 'subscribe'>,
    private readonly sessions: SessionLookup,
  ) {}

  start(): void {
    this.unsubscribe ??= this.bus.subscribe('task.cancel', (m) => this.cancel(m.taskId, m.attempt, m.delegateId, m.reason));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** Sends Cancel if this replica holds the delegate's connection and it still runs that attempt. */
  cancel(taskId: string, attempt: number, delegateId: string, reason: string): boolean {
    const session = this.sessions.get(delegateId);
    if (!session?.holds(taskId, attempt)) return false;
    session.send({ case: 'cancel', value: { taskId, attempt, reason } });
    return true;
  }
}
