import { describe, expect, it } from 'vitest';
import { attemptsExhausted, conflicting, distinctIds, normalizeSelectors, outcomeColumns, trustsAnnouncedKeys } from './rules.js';
import { StoreConflictError } from './store-errors.js';

const unique = (err: unknown) => (err as { code?: string }).code === 'UNIQUE';

describe('store rules', () => {
  it('normalises selectors to one spelling per set', () => {
    expect(normalizeSelectors(['b', 'a', 'b'])).toEqual(['a', 'b']);
    expect(normalizeSelectors([])).toEqual([]);
  });

  it('exhausts attempts at maxAttempts, not before', () => {
    expect(attemptsExhausted({ attempt: 2, maxAttempts: 3 })).toBe(false);
    expect(attemptsExhausted({ attempt: 3, maxAttempts: 3 })).toBe(true);
    expect(attemptsExhausted({ attempt: 1, maxAttempts: 1 })).toBe(true);
  });

  it('trusts keys on first use, then only beside a trusted key', () => {
    expect(trustsAnnouncedKeys([], [{ keyId: 'k1' }])).toBe(true);
    expect(trustsAnnouncedKeys([{ keyId: 'k1', trusted: true }], [{ keyId: 'k2' }, { keyId: 'k1' }])).toBe(true);
    expect(trustsAnnouncedKeys([{ keyId: 'k1', trusted: true }], [{ keyId: 'k2' }])).toBe(false);
    // Trust withdrawn: the group has keys, none trusted, and trusts nothing new by itself.
    expect(trustsAnnouncedKeys([{ keyId: 'k1', trusted: false }], [{ keyId: 'k1' }])).toBe(false);
  });

  it('sets a result or an error, never both', () => {
    expect(outcomeColumns({ state: 'succeeded', result: { a: 1 } })).toEqual({ result: { a: 1 }, error: null });
    const error = { code: 'X', message: 'm', details: {} };
    expect(outcomeColumns({ state: 'failed', error })).toEqual({ result: null, error });
  });

  it('looks each id up once', () => {
    expect(distinctIds(['a', 'b', 'a'])).toEqual(['a', 'b']);
  });

  it('maps a unique violation to StoreConflictError, synchronous or not, and leaves other errors alone', async () => {
    const violation = Object.assign(new Error('dup'), { code: 'UNIQUE' });
    const thrown = (() => {
      try {
        conflicting(unique, 'tenant', () => {
          throw violation;
        });
      } catch (err) {
        return err;
      }
    })();
    expect(thrown).toBeInstanceOf(StoreConflictError);
    expect(thrown).toMatchObject({ code: 'CONFLICT', message: 'tenant already exists', cause: violation });
    await expect(conflicting(unique, 'task', () => Promise.reject(violation))).rejects.toMatchObject({ code: 'CONFLICT', message: 'task already exists' });
    const other = new Error('disk I/O');
    await expect(conflicting(unique, 'task', () => Promise.reject(other))).rejects.toBe(other);
    expect(conflicting(unique, 'task', () => 42)).toBe(42);
  });
});
