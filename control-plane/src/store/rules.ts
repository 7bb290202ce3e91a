import type { TaskError } from './records.js';
import type { TaskOutcome, TaskRecord } from './store.js';
import { StoreConflictError } from './store-errors.js';

/**
 * The business rules every Store backend applies, written once. A backend decides how to store
 * and fetch; what a stored value means, and when a change is allowed, is decided here. Where a
 * rule must run inside a statement (so that replicas need no read-then-write window), its SQL
 * fragment lives here beside the TypeScript form, and both backends splice in the same text.
 */

/**
 * A task's selectors as stored: de-duplicated and sorted, so that equal sets have one spelling
 * (queue statistics group by the stored value, and claims compare sets).
 */
export function normalizeSelectors(selectors: readonly string[]): string[] {
  return [...new Set(selectors)].sort();
}

/**
 * Attempts exhausted: a lost attempt is the task's last when it has used `maxAttempts`. Requeuing
 * it then fails the task instead. `ATTEMPTS_EXHAUSTED_SQL` is the same rule over a `tasks` row.
 */
export function attemptsExhausted(task: { attempt: number; maxAttempts: number }): boolean {
  return task.attempt >= task.maxAttempts;
}
export const ATTEMPTS_EXHAUSTED_SQL = 'attempt >= max_attempts';

/**
 * First-use key trust for a delegate group's sealing keys. A group that has no keys yet trusts
 * what its first delegate announces; afterwards, announced keys are trusted only when they travel
 * with a key already trusted (rotation: the new key is announced beside the old). A group whose
 * trust an admin withdrew has keys but none trusted, so it trusts nothing new by itself.
 */
export function trustsAnnouncedKeys(
  known: ReadonlyArray<{ keyId: string; trusted: boolean }>,
  announced: ReadonlyArray<{ keyId: string }>,
): boolean {
  if (known.length === 0) return true;
  const trusted = new Set(known.filter((k) => k.trusted).map((k) => k.keyId));
  return announced.some((k) => trusted.has(k.keyId));
}

/** The columns an outcome sets: a result for a success, an error for a failure, never both. */
export function outcomeColumns(outcome: TaskOutcome): { result: Record<string, unknown> | null; error: TaskError | null } {
  return outcome.state === 'succeeded' ? { result: outcome.result, error: null } : { result: null, error: outcome.error };
}

/** Ids for an `IN`/`ANY` lookup: each once; an empty list needs no query at all. */
export function distinctIds(ids: readonly string[]): string[] {
  return [...new Set(ids)];
}

/**
 * Conflict mapping: a write that breaks a uniqueness rule (a name, a hash, a reused id) fails with
 * the backend-neutral StoreConflictError (code CONFLICT, answered 409), whatever database said so.
 * `isUniqueViolation` is the backend's own test of its driver's error; `fn` may be synchronous
 * (better-sqlite3) or return a promise (node-postgres).
 */
export function conflicting<T>(isUniqueViolation: (err: unknown) => boolean, what: string, fn: () => T): T {
  const map = (err: unknown): never => {
    if (isUniqueViolation(err)) throw new StoreConflictError(`${what} already exists`, { cause: err });
    throw err;
  };
  let out: T;
  try {
    out = fn();
  } catch (err) {
    return map(err);
  }
  if (out instanceof Promise) return out.catch(map) as T;
  return out;
}

/**
 * Queue order, as the claim statements' ORDER BY says it: higher priority first, then the task
 * queued first, then the id. For rows a statement returns in no particular order (RETURNING).
 */
export function inQueueOrder(tasks: TaskRecord[]): TaskRecord[] {
  return tasks.sort((a, b) => b.priority - a.priority || a.queuedAt.getTime() - b.queuedAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
