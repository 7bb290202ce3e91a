import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { TurnDeadline } from '../turn-deadline.js';
import { TurnBatch } from './turn-batch.js';

/**
 * A run function that records each statement's items. Held: each statement answers only when
 * release() is called (oldest first); otherwise at once.
 */
function recorder(held = false, answer: (item: number) => number = (n) => n * 10) {
  const statements: number[][] = [];
  const waiting: Array<() => void> = [];
  return {
    statements,
    release: () => waiting.shift()?.(),
    run: async (items: number[]) => {
      statements.push([...items]);
      if (held) await new Promise<void>((r) => waiting.push(r));
      return items.map(answer);
    },
  };
}

const turn = () => new Promise<void>((r) => setImmediate(r));

/** Lets every queued microtask run, without leaving this event-loop turn. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

describe('TurnBatch', () => {
  it('sends the calls of a turn that runs long once the deadline passes, without waiting for its end', async () => {
    const rec = recorder();
    let now = 0;
    const batch = new TurnBatch(rec.run, { deadline: new TurnDeadline(5, () => now) });
    const answered: number[] = [];
    const add = (n: number) => void batch.add(n).then((out) => answered.push(out));
    add(1);
    await microtasks();
    add(2);
    await microtasks();
    expect(rec.statements).toEqual([]);
    now = 5;
    add(3);
    await microtasks();
    expect(rec.statements).toEqual([[1, 2, 3]]);
    expect(answered).toEqual([10, 20, 30]);
    // Later calls gather anew and go at the end of the turn as usual.
    add(4);
    await microtasks();
    expect(rec.statements).toHaveLength(1);
    await turn();
    expect(rec.statements).toEqual([[1, 2, 3], [4]]);
    expect(answered).toEqual([10, 20, 30, 40]);
  });

  it('runs the calls of one turn as one statement and answers each with its own output', async () => {
    const rec = recorder();
    const batch = new TurnBatch(rec.run);
    const answers = await Promise.all([1, 2, 3, 4].map((n) => batch.add(n)));
    expect(answers).toEqual([10, 20, 30, 40]);
    expect(rec.statements).toEqual([[1, 2, 3, 4]]);
  });

  it('never puts one key twice in a statement, and a repeated key waits for the statement holding it', async () => {
    const rec = recorder(true);
    const batch = new TurnBatch(rec.run, { key: (n) => String(n % 3), maxInFlight: 2 });
    const all = Promise.all([1, 4, 2, 7, 5, 3].map((n) => batch.add(n)));
    await turn();
    // Room for two statements, but every item left shares a key with the running one except 3.
    expect(rec.statements).toEqual([[1, 2, 3]]);
    for (let i = 0; i < 3; i++) {
      rec.release();
      await turn();
      await turn();
    }
    expect(await all).toEqual([10, 40, 20, 70, 50, 30]);
    expect(rec.statements).toEqual([[1, 2, 3], [4, 5], [7]]);
  });

  it('keeps at most maxInFlight statements running; calls meanwhile gather into the next one', async () => {
    const rec = recorder(true);
    const batch = new TurnBatch(rec.run, { maxInFlight: 1, maxItems: 2 });
    const first = [batch.add(1), batch.add(2), batch.add(3)];
    await turn();
    expect(rec.statements).toEqual([[1, 2]]);
    const later = [batch.add(4), batch.add(5)];
    await turn();
    expect(rec.statements).toHaveLength(1);
    rec.release();
    await Promise.all(first.slice(0, 2));
    await turn();
    expect(rec.statements).toEqual([[1, 2], [3, 4]]);
    rec.release();
    await Promise.all(first);
    await turn();
    rec.release();
    expect(await Promise.all([...first, ...later])).toEqual([10, 20, 30, 40, 50]);
    expect(rec.statements).toEqual([[1, 2], [3, 4], [5]]);
  });

  it('retries each item alone when the shared statement fails in the database, so only the bad one fails', async () => {
    const singles: number[] = [];
    const batch = new TurnBatch<number, number>(
      async () => {
        throw new pg.DatabaseError('duplicate key value violates unique constraint', 0, 'error');
      },
      {
        single: async (n) => {
          singles.push(n);
          if (n === 2) throw new Error(`item ${n} is bad`);
          return n * 10;
        },
      },
    );
    const settled = await Promise.allSettled([1, 2, 3].map((n) => batch.add(n)));
    expect(settled.map((s) => (s.status === 'fulfilled' ? s.value : (s.reason as Error).message))).toEqual([10, 'item 2 is bad', 30]);
    expect(singles.sort()).toEqual([1, 2, 3]);
  });

  it('fails every call of the statement when the connection fails (no retry of a lost round trip)', async () => {
    let singles = 0;
    const batch = new TurnBatch<number, number>(
      async () => {
        throw new Error('Connection terminated unexpectedly');
      },
      {
        single: async (n) => {
          singles++;
          return n;
        },
      },
    );
    const settled = await Promise.allSettled([1, 2].map((n) => batch.add(n)));
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected']);
    expect(singles).toBe(0);
  });
});
