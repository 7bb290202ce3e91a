import { conflicting as conflictingIn } from '../rules.js';

/** better-sqlite3's codes for a broken UNIQUE or PRIMARY KEY constraint. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Runs a write, turning a unique violation into the backend-neutral StoreConflictError (rules.ts). */
export const conflicting = <T>(what: string, fn: () => T): T => conflictingIn(isUniqueViolation, what, fn);
