import pg from 'pg';
import { TurnDeadline } from '../turn-deadline.js';

export interface TurnBatchOptions<I> {
  /**
   * Items with the same key never share a statement (a fenced UPDATE … FROM a list that names one
   * row twice would apply only one of them and answer both), and a repeated key waits until the
   * statement holding its key has ended, so calls on one key run in call order. Without a key every
   * item may share.
   */
  key?: (item: I) => string;
  /** Most items in one statement; default 500 (bind parameters stay well under PostgreSQL's 65,535). */
  maxItems?: number;
  /**
   * Statements of this kind running at once. While they run, new calls gather for the next one, so
   * a busy replica sends fewer, fuller statements; an idle one sends each call at once. Default 2.
   */
  maxInFlight?: number;
  /**
   * Runs one item on its own. When a shared statement fails with an error from the database (not a
   * lost connection), each of its items is retried alone, so one bad item (a duplicate id) fails
   * alone and the others still succeed, exactly as if they had never shared.
   */
  single?: (item: I) => Promise<unknown>;
  /** When a long turn runs the gathered calls early (store/turn-deadline.ts). */
  deadline?: TurnDeadline;
}

type Entry<I, O> = { item: I; resolve: (out: O) => void; reject: (err: unknown) => void };

/**
 * The PostgreSQL store's group commit: calls of one kind (mark running, complete, get) made in the
 * same event-loop turn go to the server as one statement over arrays, one round trip and one
 * transaction instead of one each. Each call's promise settles with its own answer only after that
 * statement has committed, so nothing is acknowledged before it is durable, and every answer is
 * fenced exactly as the one-row statement would be (the same WHERE, per item).
 *
 * A turn that runs long does not hold the calls back: the first call that finds them gathered for
 * `TurnDeadline`'s few ms sends them at the end of its callback (store/turn-deadline.ts).
 *
 * `run` gets the items and answers one output per item, in order.
 */
export class TurnBatch<I, O> {
  private pending: Array<Entry<I, O>> = [];
  private scheduled = false;
  private running = 0;
  /** Keys of the items in statements running now. */
  private readonly busy = new Set<string>();
  private readonly maxItems: number;
  private readonly maxInFlight: number;
  private readonly deadline: TurnDeadline;

  constructor(
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly options: TurnBatchOptions<I> = {},
  ) {
    this.maxItems = options.maxItems ?? 500;
    this.maxInFlight = options.maxInFlight ?? 2;
    this.deadline = options.deadline ?? new TurnDeadline();
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    // A running statement's end schedules the next one; until then calls keep gathering.
    if (this.pending.length === 0 || this.running >= this.maxInFlight) return;
    if (this.scheduled) {
      // Gathering in a turn that runs long: send at the end of this callback, not the turn's.
      // Calls after it gather anew, with a deadline of their own.
      if (this.deadline.overdue()) {
        queueMicrotask(() => {
          this.deadline.opened();
          this.flush();
        });
      }
      return;
    }
    this.scheduled = true;
    this.deadline.opened();
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.running < this.maxInFlight && this.pending.length > 0) {
      const round = this.take();
      // Everything pending waits for a running statement's key: its end schedules the next.
      if (round.length === 0) return;
      const keys = this.options.key ? round.map((e) => this.options.key!(e.item)) : [];
      for (const k of keys) this.busy.add(k);
      this.running++;
      void this.execute(round).finally(() => {
        for (const k of keys) this.busy.delete(k);
        this.running--;
        this.schedule();
      });
    }
  }

  /** The next statement's items: in call order, up to maxItems, no key twice or of a running statement. */
  private take(): Array<Entry<I, O>> {
    const key = this.options.key;
    if (!key) return this.pending.splice(0, this.maxItems);
    const round: Array<Entry<I, O>> = [];
    const rest: Array<Entry<I, O>> = [];
    const seen = new Set<string>();
    for (const entry of this.pending) {
      const k = key(entry.item);
      if (round.length >= this.maxItems || seen.has(k) || this.busy.has(k)) rest.push(entry);
      else {
        seen.add(k);
        round.push(entry);
      }
    }
    this.pending = rest;
    return round;
  }

  private async execute(round: Array<Entry<I, O>>): Promise<void> {
    let outs: O[];
    try {
      outs = await this.run(round.map((e) => e.item));
    } catch (err) {
      const single = this.options.single;
      if (single && round.length > 1 && err instanceof pg.DatabaseError) {
        // Nothing of the failed statement was applied: each item again, alone.
        await Promise.all(round.map((e) => single(e.item).then((out) => e.resolve(out as O), e.reject)));
        return;
      }
      for (const e of round) e.reject(err);
      return;
    }
    round.forEach((e, i) => e.resolve(outs[i]!));
  }
}
