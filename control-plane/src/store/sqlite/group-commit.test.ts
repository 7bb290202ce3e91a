import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runStoreConformance } from '../store.conformance.js';
import type { Store } from '../store.js';
import { TurnDeadline } from '../turn-deadline.js';
import { GroupCommit, readStatements } from './group-commit.js';
import * as queries from './queries.js';
import { SqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'attache-group-commit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

const changesData = (sql: string): boolean => /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i.test(sql);
const NOT_WRAPPED = new Set(['migrate', 'close', 'ping']);

/**
 * The SQLite store, watched: every call of every Store method (and of identity, oidc, audit) that
 * runs a data-changing statement must settle only after a COMMIT that follows that statement.
 * Before each call, a write that changes nothing opens this turn's transaction, as a concurrent
 * write does in production: a method whose statements bypassed the group commit would then run
 * inside that transaction and answer before its COMMIT, which is the bug a list of method names
 * allowed (a name left off the list).
 */
function watched(path: string): Store {
  const log: string[] = [];
  const store = SqliteStore.open({ path, trace: (sql) => log.push(sql) });
  // A closed store refuses it; the call under test then says so itself.
  const openTurn = () => void store.oidc.pruneOidcLogins(new Date(0)).catch(() => undefined);
  const wrap = <T extends object>(target: T, owner: string): T =>
    new Proxy(target, {
      get(obj, name, receiver) {
        const value = Reflect.get(obj, name, receiver) as unknown;
        if (name === 'identity' || name === 'oidc' || name === 'audit') return wrap(value as object, String(name));
        if (typeof value !== 'function' || typeof name !== 'string' || NOT_WRAPPED.has(name)) return value;
        return (...args: unknown[]) => {
          openTurn();
          const from = log.length;
          const out = (value as (...a: unknown[]) => unknown).apply(obj, args);
          const to = log.length;
          const wrote = log.slice(from, to).some(changesData);
          if (!wrote || !(out instanceof Promise)) return out;
          return out.then((result: unknown) => {
            if (!log.slice(to).includes('COMMIT')) throw new Error(`${owner}.${name} settled before the COMMIT of its write`);
            return result;
          });
        };
      },
    });
  return wrap(store, 'store');
}

runStoreConformance('sqlite, every write settling after its COMMIT', async () => watched(join(dir, `watched-${++files}.db`)));

describe('GroupCommit', () => {
  it('refuses a data-changing statement among the reads, as SQLite classifies it', () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (a)');
      const reads = readStatements(() => ({ ok: db.prepare('SELECT a FROM t'), sneaky: db.prepare('INSERT INTO t VALUES (1) RETURNING a') }));
      expect(() => reads()).toThrow(/"sneaky" changes data/);
    } finally {
      db.close();
    }
  });

  it('files every statement of queries.ts on the right side', async () => {
    const path = join(dir, `schema-${++files}.db`);
    const store = SqliteStore.open({ path });
    await store.migrate();
    await store.close();
    const db = new Database(path, { readonly: true });
    try {
      const tables = Object.entries(queries) as Array<[string, Record<string, string>]>;
      // Every table of statements is named *READS or *WRITES; nothing else is exported.
      expect(tables.filter(([table]) => !/(^|_)(READS|WRITES)$/.test(table)).map(([table]) => table)).toEqual([]);
      for (const [table, statements] of tables) {
        const reads = table.endsWith('READS');
        for (const [name, sql] of Object.entries(statements)) expect([table, name, db.prepare(sql).readonly]).toEqual([table, name, reads]);
      }
    } finally {
      db.close();
    }
  });

  it('runs a step of another write only inside one', async () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (a)');
      const commit = new GroupCommit(db);
      const outer = commit.writer(() => ({ insert: db.prepare('INSERT INTO t VALUES (?)') }));
      const inner = commit.writer(() => ({ insert: db.prepare('INSERT INTO t VALUES (?)') }));
      expect(() => inner.within((w) => w.insert.run(1))).toThrow(/only inside another group-committed write/);
      const done = outer.run((w) => {
        w.insert.run(2);
        inner.within((w2) => w2.insert.run(3));
      });
      expect(db.inTransaction).toBe(true);
      await done;
      expect(db.inTransaction).toBe(false);
      expect(db.prepare('SELECT a FROM t ORDER BY a').pluck().all()).toEqual([2, 3]);
    } finally {
      db.close();
    }
  });

  it('commits a turn that runs long at the end of the first write past the deadline, not at its end', async () => {
    const db = new Database(':memory:');
    try {
      db.exec('CREATE TABLE t (a)');
      let now = 0;
      const commit = new GroupCommit(db, new TurnDeadline(5, () => now));
      const writer = commit.writer(() => ({ insert: db.prepare('INSERT INTO t VALUES (?)') }));
      const settled: number[] = [];
      const write = (a: number) => void writer.run((w) => w.insert.run(a)).then(() => settled.push(a));
      // A short turn: the writes wait for its end, however many callbacks they come from.
      write(1);
      await microtasks();
      write(2);
      await microtasks();
      expect(db.inTransaction).toBe(true);
      expect(settled).toEqual([]);
      // The turn goes on past the deadline (libuv still polling): the next write's callback ends
      // with a COMMIT, and everything gathered so far settles before the turn does.
      now = 5;
      write(3);
      await microtasks();
      expect(db.inTransaction).toBe(false);
      expect(settled).toEqual([1, 2, 3]);
      // Writes after it gather into a new batch, with a deadline of its own.
      write(4);
      await microtasks();
      expect(db.inTransaction).toBe(true);
      await new Promise((r) => setImmediate(r));
      expect(settled).toEqual([1, 2, 3, 4]);
      expect(db.prepare('SELECT a FROM t ORDER BY a').pluck().all()).toEqual([1, 2, 3, 4]);
    } finally {
      db.close();
    }
  });
});

/** Lets every queued microtask run, without leaving this event-loop turn. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
