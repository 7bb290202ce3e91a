import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.js';
import { decodeCursor, decodeTimeCursor, encodeCursor, pageInMemory, pageOf } from './pagination.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('cursor pages', () => {
  it('a cursor round-trips to its start, only on the list that made it', () => {
    const cursor = encodeCursor('accounts', { key: 'prod', id: 'acc_1' });
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor('accounts', cursor)).toEqual({ key: 'prod', id: 'acc_1' });
    expect(decodeCursor('accounts', undefined)).toBeUndefined();
    for (const bad of [encodeCursor('tasks', { key: '', id: 'tsk_1' }), 'not-a-cursor', Buffer.from('{"l":"accounts"}').toString('base64url')]) {
      const err = thrown(() => decodeCursor('accounts', bad));
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe('VALIDATION_FAILED');
      expect((err as AppError).details).toMatchObject({ issues: [{ path: 'cursor' }] });
    }
  });

  it('a time cursor gives a Date and refuses a key that is no time', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    expect(decodeTimeCursor('tokens', encodeCursor('tokens', { key: at.toISOString(), id: 'tok_1' }))).toEqual({ key: at, id: 'tok_1' });
    expect(() => decodeTimeCursor('tokens', encodeCursor('tokens', { key: 'yesterday', id: 'tok_1' }))).toThrow(AppError);
  });

  it('the extra row says another page exists; the last page has no cursor', () => {
    const start = (n: number) => ({ key: String(n), id: `id${n}` });
    const full = pageOf('n', [1, 2, 3], 2, start);
    expect(full.items).toEqual([1, 2]);
    expect(decodeCursor('n', full.nextCursor!)).toEqual(start(2));
    expect(pageOf('n', [1, 2], 2, start)).toEqual({ items: [1, 2], nextCursor: null });
    expect(pageOf('n', [], 2, start)).toEqual({ items: [], nextCursor: null });
  });

  it('pages a sorted list in memory, ties on the key broken by id', () => {
    const rows = [
      { name: 'a', id: '1' },
      { name: 'b', id: '1' },
      { name: 'b', id: '2' },
      { name: 'c', id: '1' },
    ];
    const startOf = (r: { name: string; id: string }) => ({ key: r.name, id: r.id });
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = pageInMemory('g', rows, { limit: 1, cursor }, startOf);
      seen.push(...page.items.map((r) => `${r.name}${r.id}`));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(['a1', 'b1', 'b2', 'c1']);
  });
});
