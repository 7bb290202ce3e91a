import type Database from 'better-sqlite3';
import { TurnDeadline } from '../turn-deadline.js';

type Statements = Record<string, Database.Statement>;
type Waiter = { settle: () => void; fail: (err: unknown) => void };

/** Prepares each named statement of `sql` (a queries.ts table) on `db`. */
export function prepareEach<K extends string>(db: Database.Database, sql: Readonly<Record<K, string>>): Record<K, Database.Statement> {
  const out = {} as Record<K, Database.Statement>;
  for (const name of Object.keys(sql) as K[]) out[name] = db.prepare(sql[name]);
  return out;
}

/**
 * Statements that only read. SQLite itself says whether a statement can change the database
 * (`Statement.readonly`); one that can is refused here, so a write cannot be filed with the reads
 * and run outside the group commit.
 */
export function readStatements<R extends Statements>(prepare: () => R): () => R {
  let statements: R | undefined;
  return () => {
    if (statements) return statements;
    const prepared = prepare();
    for (const [name, statement] of Object.entries(prepared)) {
      if (!statement.readonly) {
        throw new Error(`the SQLite statement "${name}" changes data: prepare it with the write statements, which run inside the group commit`);
      }
    }
    statements = prepared;
    return statements;
  };
}

/**
 * Group commit. Every write of one event-loop turn runs inside one IMMEDIATE transaction that
 * commits on the next turn; each write's promise settles only after that COMMIT, so nothing is
 * acknowledged before it is durable. Under load one commit (and one WAL append of the touched
 * pages) serves many task transitions instead of one each. Statements still run one at a time, in
 * order, so every fenced UPDATE sees the effects of the ones before it.
 *
 * A turn that runs long (a storm of I/O keeps libuv in its poll phase, which setImmediate waits
 * behind) commits sooner: the first write that finds the batch open for `TurnDeadline`'s few ms
 * commits it at the end of its callback (store/turn-deadline.ts).
 *
 * A store registers its write statements by type, through `writer()`: the statements are handed
 * out only to the function `Writer.run` is given, so there is no way to run one without joining the
 * commit (earlier, a list of method names decided which methods joined, and a name left off it
 * answered before COMMIT).
 */
export class GroupCommit {
  private batch: Waiter[] | null = null;
  /** Work that joins this turn's transaction last, just before COMMIT (see beforeCommit). */
  private hooks: Array<() => void> = [];
  /** Writes running now, nested ones included (see Writer.within). */
  private depth = 0;

  constructor(
    private readonly db: Database.Database,
    private readonly deadline = new TurnDeadline(),
  ) {}

  /** Write statements, prepared on first use (they need the tables), reachable only inside a write. */
  writer<W extends Statements>(prepare: () => W): Writer<W> {
    return new Writer(this, prepare);
  }

  /** Runs `write` in this turn's transaction; the promise settles with its outcome after COMMIT. */
  join<T>(write: () => T): Promise<T> {
    let batch: Waiter[];
    try {
      batch = this.open();
    } catch (err) {
      // A closed or broken connection: the caller hears it as a failed write, like any other.
      return Promise.reject(err);
    }
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    this.depth++;
    try {
      outcome = { ok: true, value: write() };
    } catch (error) {
      // A failed write fails alone and the rest of the batch still commits: a failing statement
      // changes nothing, and a step of several statements that must not half-apply runs in a
      // savepoint (a better-sqlite3 transaction inside this one).
      outcome = { ok: false, error };
    } finally {
      this.depth--;
    }
    return new Promise<T>((resolve, reject) => {
      batch.push({
        settle: () => (outcome.ok ? resolve(outcome.value) : reject(outcome.error)),
        fail: reject,
      });
    });
  }

  /** Whether a write of this turn is running now (its statements are inside the open transaction). */
  get writing(): boolean {
    return this.depth > 0;
  }

  /**
   * Runs `hook` inside this turn's transaction after every other write of the turn, just before
   * COMMIT (opening the transaction if none is open). Writes the hook makes join the same commit and
   * settle after it. For work gathered over a turn and done once (claim-batch.ts); a hook that throws
   * fails nothing else.
   */
  beforeCommit(hook: () => void): void {
    this.open();
    this.hooks.push(hook);
  }

  /** Commits the open batch now (close). */
  flush(): void {
    if (this.batch) this.commit(this.batch);
  }

  private open(): Waiter[] {
    if (this.batch === null) {
      this.db.exec('BEGIN IMMEDIATE');
      const batch: Waiter[] = [];
      this.batch = batch;
      this.deadline.opened();
      setImmediate(() => this.commit(batch));
      return batch;
    }
    const batch = this.batch;
    if (this.deadline.overdue()) queueMicrotask(() => this.commit(batch));
    return batch;
  }

  private commit(batch: Waiter[]): void {
    // Settled already (close flushed it before its turn ended).
    if (this.batch !== batch) return;
    // Hooks run while the batch is still open, so their writes join it; a hook may add another.
    for (let hook = this.hooks.shift(); hook; hook = this.hooks.shift()) {
      try {
        hook();
      } catch {
        // A hook owns its callers and tells them itself (ClaimBatch rejects its claims).
      }
    }
    this.batch = null;
    try {
      // SQLite rolls a transaction back by itself on some errors (disk full, I/O): then nothing of
      // this batch is durable and every write in it must fail.
      if (!this.db.inTransaction) throw new Error('the group commit transaction was rolled back by SQLite');
      this.db.exec('COMMIT');
    } catch (err) {
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {
        // The connection is unusable; every waiter gets the commit error below.
      }
      for (const w of batch) w.fail(err);
      return;
    }
    for (const w of batch) w.settle();
  }
}

/** One store's write statements, usable only as part of a group-committed write. */
export class Writer<W extends Statements> {
  private statements: W | undefined;

  constructor(
    private readonly commit: GroupCommit,
    private readonly prepare: () => W,
  ) {}

  /** A write: `fn` runs now, in this turn's transaction; the promise settles after COMMIT. */
  run<T>(fn: (w: W) => T): Promise<T> {
    return this.commit.join(() => fn(this.get()));
  }

  /**
   * A step of a write already running (another store's, in the same transaction): a tenant and its
   * first admin user are one write. Refused outside a write, so it cannot become a way around it.
   */
  within<T>(fn: (w: W) => T): T {
    if (!this.commit.writing) throw new Error('Writer.within runs only inside another group-committed write');
    return fn(this.get());
  }

  private get(): W {
    this.statements ??= this.prepare();
    return this.statements;
  }
}
