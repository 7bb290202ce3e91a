import type { Logger } from 'pino';
import type { Keyring } from '../keys/keyring.js';
import type { DelegatePolicy } from '../policy/delegate-policy.js';

/**
 * What an executor may do while running one task attempt. `signal` aborts on cancel, on the
 * run deadline and when the delegate gives up its work; executors must stop promptly when it fires.
 */
export interface ExecutionContext {
  readonly taskId: string;
  readonly attempt: number;
  readonly deadline: Date;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** Registers a resolved secret value so that it is masked out of everything leaving the process. */
  readonly registerSecret: (value: string) => void;
  /** The tenant this delegate serves (from Welcome); with `keyring`, what opening sealed values needs. */
  readonly tenantId?: string;
  /** This delegate's group keys; absent or empty when it holds none. */
  readonly keyring?: Keyring;
  /** What this delegate may read and where it may connect, whatever the task asks. */
  readonly policy: DelegatePolicy;
}

/**
 * Runs one task type. `run` receives the serialised payload message and returns the serialised
 * result message; a failure is thrown as a `TaskFailure` (anything else becomes INTERNAL).
 */
export interface Executor {
  readonly type: string;
  run(payload: Uint8Array, ctx: ExecutionContext): Promise<Uint8Array>;
}
