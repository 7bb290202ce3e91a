import pg from 'pg';
import { conflicting as conflictingIn } from '../rules.js';

/** SQLSTATE 23505: unique_violation. */
export const isUniqueViolation = (err: unknown): boolean => err instanceof pg.DatabaseError && err.code === '23505';

/** Runs a write, turning a unique violation into the backend-neutral StoreConflictError (rules.ts). */
export const conflicting = <T>(what: string, fn: () => Promise<T>): Promise<T> => conflictingIn(isUniqueViolation, what, fn);
