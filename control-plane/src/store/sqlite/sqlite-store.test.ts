import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { runStoreConformance } from '../store.conformance.js';
import { migrate, MIGRATIONS } from './schema.js';
import * as queries from './queries.js';
import { SqliteStore } from './sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'attache-sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
const tempPath = () => join(dir, `store-${++files}.db`);

runStoreConformance('sqlite in memory', async () => SqliteStore.open({ path: ':memory:' }));
runStoreConformance('sqlite file (WAL)', async () => SqliteStore.open({ path: tempPath() }));

describe('SqliteStore (SQLite only)', () => {
  it('opens a file in WAL mode and keeps its data across close and reopen', async () => {
    const path = tempPath();
    const first = SqliteStore.open({ path });
    await first.migrate();
    const createdAt = new Date(Date.UTC(2025, 0, 1));
    await first.createTenant(
      { id: 't1', name: 'acme', externalId: 'ext', createdAt },
      { id: 'k1', tenantId: 't1', hash: 'h1', createdAt },
    );
    await first.close();
    await first.close();

    const raw = new Database(path, { readonly: true });
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      raw.close();
    }

    const second = SqliteStore.open({ path });
    try {
      await second.migrate();
      expect(await second.getTenant('t1')).toEqual({ id: 't1', name: 'acme', externalId: 'ext', createdAt, status: 'active', suspendedAt: null });
      expect((await second.identity.findApiKeyByHash('h1'))?.key.tenantId).toBe('t1');
    } finally {
      await second.close();
    }
  });

  it('group commit: writes of one turn share a commit, each settles only once it is visible to another connection, a failed write fails alone', async () => {
    const path = tempPath();
    const store = SqliteStore.open({ path });
    await store.migrate();
    const at = new Date(Date.UTC(2025, 0, 1));
    const reader = new Database(path, { readonly: true });
    try {
      const names = () => (reader.prepare('SELECT name FROM tenants ORDER BY name').all() as Array<{ name: string }>).map((r) => r.name);
      // Issued in one turn: one transaction. Nothing is visible elsewhere before the commit.
      const a = store.createTenant({ id: 'ta', name: 'a', externalId: 'x', createdAt: at }, { id: 'ka', tenantId: 'ta', hash: 'ha', createdAt: at });
      const dup = store.createTenant({ id: 'tb', name: 'a', externalId: 'y', createdAt: at }, { id: 'kb', tenantId: 'tb', hash: 'hb', createdAt: at });
      const c = store.createTenant({ id: 'tc', name: 'c', externalId: 'z', createdAt: at }, { id: 'kc', tenantId: 'tc', hash: 'hc', createdAt: at });
      expect(names()).toEqual([]);
      await a;
      expect(names()).toEqual(['a', 'c']);
      await expect(dup).rejects.toMatchObject({ code: 'CONFLICT' });
      await c;
      expect(await store.identity.findApiKeyByHash('hb')).toBeNull();
    } finally {
      reader.close();
      await store.close();
    }
  });

  it('claims of one turn with one eligibility share one read of the queue and one UPDATE, committed before any settles', async () => {
    const statements: string[] = [];
    const store = SqliteStore.open({ path: ':memory:', trace: (sql) => statements.push(sql) });
    try {
      await store.migrate();
      const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
      await store.createTenant({ id: 't1', name: 'acme', externalId: 'ext', createdAt: at(0) }, { id: 'k1', tenantId: 't1', hash: 'h1', createdAt: at(0) });
      const base = { tenantId: 't1', type: 'echo', payload: {}, selectors: [], priority: 0, state: 'queued' as const, attempt: 1, maxAttempts: 3, delegateId: null, queueTimeoutSeconds: 60, runTimeoutSeconds: 30, result: null, error: null, accountId: null, requestedBy: null, createdAt: at(0), assignedAt: null, startedAt: null, endedAt: null, leaseExpiresAt: null };
      await store.createTasks(Array.from({ length: 30 }, (_, i) => ({ ...base, id: `task-${String(i).padStart(2, '0')}`, queuedAt: at(i) })));
      statements.length = 0;
      const delegate = (i: number) => ({ id: `d${i}`, tenantId: 't1', tags: ['linux'], taskTypes: ['echo'] });
      const claims = await Promise.all(Array.from({ length: 10 }, (_, i) => store.claimQueued({ delegate: delegate(i), now: at(40), leaseExpiresAt: at(70) }, 2)));
      expect(claims.map((c) => c.map((t) => t.id))).toEqual(Array.from({ length: 10 }, (_, i) => [`task-${String(2 * i).padStart(2, '0')}`, `task-${String(2 * i + 1).padStart(2, '0')}`]));
      const reads = statements.filter((s) => /^\s*SELECT t\.id FROM tasks t INDEXED BY tasks_queue/.test(s));
      const updates = statements.filter((s) => /^\s*UPDATE tasks AS t SET state = 'assigned'/.test(s));
      expect({ reads: reads.length, updates: updates.length }).toEqual({ reads: 1, updates: 1 });
      // Each claimed task is found by its key, not by scanning the queue (which is what made it slow).
      const raw = new Database(':memory:');
      try {
        migrate(raw);
        const plan = raw.prepare(`EXPLAIN QUERY PLAN ${queries.WRITES.claimTasks}`).all({ claims: '[]', tenantId: 't1', tags: '[]', taskTypes: '[]' }) as Array<{ detail: string }>;
        expect(plan.map((p) => p.detail)).toContain('SEARCH t USING INDEX sqlite_autoindex_tasks_1 (id=?)');
      } finally {
        raw.close();
      }
      // The UPDATE ran inside the turn's transaction, and the claims settled after its COMMIT.
      expect(statements.indexOf('COMMIT')).toBeGreaterThan(statements.indexOf(updates[0]!));
      // Nothing queued: every claim of the turn hears so from the one read, and nothing is written.
      statements.length = 0;
      const none = await Promise.all([3, 4].map(() => store.claimQueued({ delegate: { ...delegate(0), tags: ['gpu-only'], taskTypes: ['other'] }, now: at(41), leaseExpiresAt: at(71) }, 5)));
      expect(none).toEqual([[], []]);
      expect(statements.filter((s) => s.startsWith('UPDATE'))).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it('records the schema version once, however often it migrates', async () => {
    const path = tempPath();
    const store = SqliteStore.open({ path });
    await store.migrate();
    await store.migrate();
    await store.close();
    const reopened = SqliteStore.open({ path });
    await reopened.migrate();
    await reopened.close();

    const raw = new Database(path, { readonly: true });
    try {
      const versions = raw.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
      expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      raw.close();
    }
  });

  it('migration 7 reads the tokens made before it as unbound', async () => {
    const path = tempPath();
    const raw = new Database(path);
    migrate(raw, MIGRATIONS.filter((m) => m.version < 7));
    raw.prepare(`INSERT INTO tenants (id, name, external_id, created_at) VALUES ('t1', 'acme', 'ext', 0)`).run();
    raw.prepare(`INSERT INTO delegate_tokens (id, tenant_id, name, hash, created_at, revoked_at) VALUES ('tok_old', 't1', 'old', 'h-old', 0, NULL)`).run();
    raw.close();
    const store = SqliteStore.open({ path });
    await store.migrate();
    expect(await store.findDelegateTokenByHash('h-old')).toMatchObject({ id: 'tok_old', group: null, tags: null });
    await store.close();
  });

  it('migration 8 keeps accounts and open tasks of an older database: ids become per tenant, payload sizes are filled in', async () => {
    const path = tempPath();
    const old = new Database(path);
    migrate(old, MIGRATIONS.filter((m) => m.version <= 5));
    old.exec(`
      INSERT INTO tenants (id, name, external_id, created_at) VALUES ('ta', 'a', 'x', 0), ('tb', 'b', 'y', 0);
      INSERT INTO aws_accounts (id, tenant_id, name, description, partition, auth, test_region, delegate_selectors,
          endpoints, status, created_at, updated_at, gateway, policy_arns)
        VALUES ('acc_shared', 'ta', 'prod', 'kept', 'aws', '{"type":"delegate"}', 'us-east-1', '[]', '{}', 'valid', 1, 2, 'gw', '["arn:aws:iam::aws:policy/ReadOnlyAccess"]');
      INSERT INTO tasks (id, tenant_id, type, payload, selectors, priority, state, attempt, max_attempts,
          queue_timeout_seconds, run_timeout_seconds, created_at, queued_at)
        VALUES ('t1', 'ta', 'echo', '{"message":"héllo"}', '[]', 0, 'queued', 1, 3, 60, 60, 0, 0);
    `);
    old.close();

    const store = SqliteStore.open({ path });
    try {
      await store.migrate();
      const kept = await store.getAccount('ta', 'acc_shared');
      expect(kept).toMatchObject({ name: 'prod', description: 'kept', gateway: 'gw', policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'], status: 'valid' });
      await store.createAccount({ ...kept!, tenantId: 'tb', description: 'b' });
      expect((await store.getAccount('tb', 'acc_shared'))?.description).toBe('b');
      expect((await store.getAccount('ta', 'acc_shared'))?.description).toBe('kept');
      expect(await store.openTaskUsage('ta')).toEqual({ tasks: 1, payloadBytes: Buffer.byteLength('{"message":"héllo"}') });
    } finally {
      await store.close();
    }
  });

  it('enforces foreign keys on its own connection', async () => {
    const store = SqliteStore.open({ path: ':memory:' });
    await store.migrate();
    const at = new Date(0);
    await expect(
      store.createDelegateToken({ id: 'x', tenantId: 'no-such-tenant', name: 'n', hash: 'h', createdAt: at, revokedAt: null, group: null, tags: null }),
    ).rejects.toThrow(/FOREIGN KEY/);
    await store.close();
  });

  it('fails ping once closed', async () => {
    const store = SqliteStore.open({ path: ':memory:' });
    await store.ping();
    await store.close();
    await expect(store.ping()).rejects.toThrow();
  });
});
