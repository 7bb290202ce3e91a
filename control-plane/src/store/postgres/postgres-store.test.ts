import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../config.js';
import { openStore } from '../open-store.js';
import { startPostgres, type PostgresServer } from '../../../../e2e/src/support/postgres.js';
import { runStoreConformance } from '../store.conformance.js';
import type { ClaimingDelegate, TaskRecord } from '../store.js';
import { migrate, MIGRATIONS } from './schema.js';
import { PostgresStore } from './postgres-store.js';
import { BATCH } from './queries.js';
import type { AuditEntry } from '../audit-records.js';
import { StoreConflictError } from '../store-errors.js';
import { queuedTask } from '../../delegates/test-support.js';

// One real server for the file; each group of tests gets its own database so the migration race
// and the claim race start from nothing.
let server: PostgresServer;
let conformanceUrl: string;

beforeAll(async () => {
  server = await startPostgres();
  conformanceUrl = await server.createDatabase('conformance');
});
afterAll(async () => {
  await server?.stop();
});

runStoreConformance('postgres', async () => PostgresStore.open({ url: conformanceUrl }));

describe('PostgresStore (PostgreSQL only)', () => {
  const T0 = Date.UTC(2025, 0, 1);
  const at = (seconds: number) => new Date(T0 + seconds * 1000);

  async function freshDatabase(name: string): Promise<string> {
    return server.createDatabase(name);
  }

  async function seedTenant(store: PostgresStore, id: string): Promise<void> {
    await store.createTenant(
      { id, name: id, externalId: `ext-${id}`, createdAt: at(0) },
      { id: `key-${id}`, tenantId: id, hash: `hash-${id}`, createdAt: at(0) },
    );
  }

  function task(tenantId: string, i: number, over: Partial<TaskRecord> = {}): TaskRecord {
    return queuedTask(tenantId, `task-${String(i).padStart(4, '0')}`, { payload: { i }, selectors: ['linux'], priority: i % 3, createdAt: at(i), queuedAt: at(i), ...over });
  }

  it('migrates from three instances at once, applying each step exactly once', async () => {
    const url = await freshDatabase('migrate_race');
    const stores = await Promise.all([1, 2, 3].map(() => PostgresStore.open({ url, poolSize: 2 })));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      await Promise.all(stores.map((s) => s.migrate()));

      const raw = new pg.Client({ connectionString: url });
      await raw.connect();
      try {
        const { rows } = await raw.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
        expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
        const locks = await raw.query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory'`);
        expect(locks.rowCount).toBe(0);
      } finally {
        await raw.end();
      }
      // Every instance can use the schema.
      await seedTenant(stores[0]!, 'tenant-m');
      for (const s of stores) expect((await s.getTenant('tenant-m'))?.name).toBe('tenant-m');
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it('migration 7 reads the tokens made before it as unbound', async () => {
    const url = await freshDatabase('tokens_before_binding');
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      await migrate(pool, MIGRATIONS.filter((m) => m.version < 7));
      await pool.query(`INSERT INTO tenants (id, name, external_id, created_at) VALUES ('t1', 'acme', 'ext', now())`);
      await pool.query(`INSERT INTO delegate_tokens (id, tenant_id, name, hash, created_at) VALUES ('tok_old', 't1', 'old', 'h-old', now())`);
    } finally {
      await pool.end();
    }
    const store = await PostgresStore.open({ url });
    try {
      await store.migrate();
      expect(await store.findDelegateTokenByHash('h-old')).toMatchObject({ id: 'tok_old', group: null, tags: null });
      expect(await store.isDelegateGroupBound('t1', 'old')).toBe(false);
    } finally {
      await store.close();
    }
  });

  it('never hands one attempt to two delegates when two instances race claimNext', async () => {
    const url = await freshDatabase('claim_race');
    const a = await PostgresStore.open({ url, poolSize: 5 });
    const b = await PostgresStore.open({ url, poolSize: 5 });
    try {
      await a.migrate();
      await b.migrate();
      await seedTenant(a, 'tenant-c');
      const tasks = Array.from({ length: 60 }, (_, i) => task('tenant-c', i));
      for (const t of tasks) await a.insertTask(t);

      const delegates: ClaimingDelegate[] = Array.from({ length: 8 }, (_, i) => ({
        id: `delegate-${i}`,
        tenantId: 'tenant-c',
        tags: ['linux', `gw-${i}`],
        taskTypes: ['echo'],
      }));
      // Each round: every delegate claims through both instances at once; rounds repeat until
      // the queue is drained, so claims race on the same head-of-queue rows over and over.
      const won: TaskRecord[] = [];
      for (let round = 0; round < 20 && won.length < tasks.length; round++) {
        const claims = await Promise.all(
          delegates.flatMap((d) => [a.claimNext({ delegate: d, now: at(100 + round), leaseExpiresAt: at(130 + round) }), b.claimNext({ delegate: d, now: at(100 + round), leaseExpiresAt: at(130 + round) })]),
        );
        won.push(...claims.filter((c): c is TaskRecord => c !== null));
      }

      expect(won).toHaveLength(tasks.length);
      expect(new Set(won.map((t) => t.id)).size).toBe(tasks.length);
      for (const c of won) {
        expect(c).toMatchObject({ state: 'assigned', attempt: 1 });
        expect((await b.getTask('tenant-c', c.id))?.delegateId).toBe(c.delegateId);
      }
      expect(await a.claimNext({ delegate: delegates[0]!, now: at(200), leaseExpiresAt: at(230) })).toBeNull();

      // Requeued attempts are raced the same way: attempt 2 of each task goes to exactly one delegate.
      const ERR = { code: 'LEASE_EXPIRED', message: 'lost', details: {} };
      await Promise.all(won.map((c, i) => (i % 2 ? a : b).requeueTask({ taskId: c.id, attempt: 1, now: at(300), exhaustedError: ERR })));
      const second = (
        await Promise.all(
          Array.from({ length: 3 }, () =>
            Promise.all(delegates.flatMap((d) => [a.claimNext({ delegate: d, now: at(301), leaseExpiresAt: at(331) }), b.claimNext({ delegate: d, now: at(301), leaseExpiresAt: at(331) })])),
          ),
        )
      )
        .flat()
        .filter((c): c is TaskRecord => c !== null);
      expect(second.every((c) => c.attempt === 2)).toBe(true);
      expect(new Set(second.map((c) => c.id)).size).toBe(second.length);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('maps a unique violation to StoreConflictError with the database error as cause', async () => {
    const store = await PostgresStore.open({ url: conformanceUrl });
    try {
      await store.migrate();
      await seedTenant(store, 'tenant-dup');
      const err = await store.createTenant(
        { id: 'tenant-dup-2', name: 'tenant-dup', externalId: 'x', createdAt: at(0) },
        { id: 'key-dup-2', tenantId: 'tenant-dup-2', hash: 'hash-dup-2', createdAt: at(0) },
      ).catch((e: unknown) => e);
      expect(err).toMatchObject({ name: 'StoreConflictError', code: 'CONFLICT' });
      expect((err as Error).cause).toMatchObject({ code: '23505' });
    } finally {
      await store.close();
    }
  });

  it('fails ping quickly while PostgreSQL is down and recovers when it is back', async () => {
    // A server of its own: halting the shared one would disturb nothing here, but this keeps the
    // test independent of the others' timing.
    const own = await startPostgres();
    const store = await PostgresStore.open({ url: own.url, poolSize: 3, pingTimeoutMs: 1_000 });
    try {
      await store.migrate();
      await store.ping();
      await seedTenant(store, 'tenant-r');

      await own.halt();
      const started = Date.now();
      await expect(store.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2_500);
      await expect(store.getTenant('tenant-r')).rejects.toThrow();

      await own.resume();
      await store.ping();
      expect((await store.getTenant('tenant-r'))?.name).toBe('tenant-r');

      // And once more through restart(), with connections open at the moment the server goes away.
      await Promise.all([store.ping(), store.ping(), store.ping()]);
      await own.restart();
      await store.ping();
      expect((await store.getTenant('tenant-r'))?.id).toBe('tenant-r');
    } finally {
      await store.close();
      await own.stop();
    }
  });

  it('fails ping within its timeout when the server accepts connections but never answers', async () => {
    // A listener that swallows everything stands in for a hung server or a silently dropped network.
    const sockets = new Set<Socket>();
    const blackHole: Server = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const { port } = blackHole.address() as { port: number };
    const store = await PostgresStore.open({ url: `postgres://x@127.0.0.1:${port}/x`, pingTimeoutMs: 300, connectTimeoutMs: 300 });
    try {
      const started = Date.now();
      await expect(store.ping()).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await store.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => blackHole.close(() => resolve()));
    }
  });

  it('is chosen by ATTACHE_DATABASE_URL; without it the store is SQLite in the data dir', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'attache-open-store-'));
    try {
      const config = loadConfig({ ATTACHE_DATABASE_URL: conformanceUrl, ATTACHE_DATA_DIR: dataDir });
      expect(config.databaseUrl).toBe(conformanceUrl);
      const pgStore = await openStore(config);
      try {
        expect(pgStore).toBeInstanceOf(PostgresStore);
        await pgStore.migrate();
        await pgStore.ping();
      } finally {
        await pgStore.close();
      }

      const sqlite = await openStore(loadConfig({ ATTACHE_DATA_DIR: dataDir }));
      try {
        expect(sqlite.kind).toBe('sqlite');
      } finally {
        await sqlite.close();
      }
      expect(() => loadConfig({ ATTACHE_DATABASE_URL: 'mysql://db/attache' })).toThrow(ConfigError);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('migration 8 keeps accounts and open tasks of an older database: ids become per tenant, payload sizes are filled in, the quota read is index-only', async () => {
    const url = await freshDatabase('migrate_v8');
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      await migrate(pool, MIGRATIONS.filter((m) => m.version <= 5));
      await pool.query(`
        INSERT INTO tenants (id, name, external_id, created_at) VALUES ('ta', 'a', 'x', now()), ('tb', 'b', 'y', now());
        INSERT INTO aws_accounts (id, tenant_id, name, description, partition, auth, test_region, delegate_selectors,
            endpoints, status, created_at, updated_at, gateway, policy_arns)
          VALUES ('acc_shared', 'ta', 'prod', 'kept', 'aws', '{"type":"delegate"}', 'us-east-1', '{}', '{}', 'valid', now(), now(), 'gw', '{arn:aws:iam::aws:policy/ReadOnlyAccess}');
        INSERT INTO tasks (id, tenant_id, type, payload, selectors, priority, state, attempt, max_attempts,
            queue_timeout_seconds, run_timeout_seconds, created_at, queued_at)
          VALUES ('t1', 'ta', 'echo', '{"message":"héllo"}', '{}', 0, 'queued', 1, 3, 60, 60, now(), now());
      `);
    } finally {
      await pool.end();
    }
    const store = await PostgresStore.open({ url });
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    try {
      await store.migrate();
      const kept = await store.getAccount('ta', 'acc_shared');
      expect(kept).toMatchObject({ name: 'prod', description: 'kept', gateway: 'gw', policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] });
      await store.createAccount({ ...kept!, tenantId: 'tb', description: 'b' });
      expect((await store.getAccount('tb', 'acc_shared'))?.description).toBe('b');
      expect((await store.getAccount('ta', 'acc_shared'))?.description).toBe('kept');
      // jsonb's text form, as the store measures new payloads (JSON.stringify) within a few bytes.
      const usage = await store.openTaskUsage('ta');
      expect(usage.tasks).toBe(1);
      expect(usage.payloadBytes).toBeGreaterThanOrEqual(Buffer.byteLength('{"message":"héllo"}'));

      await raw.query('SET enable_seqscan = off');
      const plan = await raw.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN SELECT COUNT(*)::int AS tasks, COALESCE(SUM(payload_bytes), 0)::bigint AS bytes FROM tasks
         WHERE tenant_id = 'ta' AND state IN ('queued', 'assigned', 'running')`,
      );
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index Only Scan using tasks_tenant_open/);
    } finally {
      await raw.end();
      await store.close();
    }
  });

  it('answers every call of one turn on its own when they share a statement: fences per task, a duplicate fails alone', async () => {
    const url = await freshDatabase('turn_batches');
    const store = await PostgresStore.open({ url });
    try {
      await store.migrate();
      await seedTenant(store, 'tenant-b1');
      await seedTenant(store, 'tenant-b2');
      const tasks = Array.from({ length: 40 }, (_, i) => task(i % 4 === 3 ? 'tenant-b2' : 'tenant-b1', i));
      await store.insertTask(tasks[0]!);
      // All in one turn: the already stored one is a conflict, the rest are stored.
      const inserted = await Promise.allSettled(tasks.map((t) => store.insertTask(t)));
      expect(inserted[0]).toMatchObject({ status: 'rejected', reason: expect.any(StoreConflictError) });
      expect(inserted.slice(1).every((r) => r.status === 'fulfilled')).toBe(true);
      expect(await store.openTaskUsage('tenant-b1')).toMatchObject({ tasks: 30 });
      const usage = await Promise.all([store.openTaskUsage('tenant-b1'), store.openTaskUsage('tenant-b2'), store.openTaskUsage('nobody')]);
      expect(usage.map((u) => u.tasks)).toEqual([30, 10, 0]);

      const linux = (i: number, tenantId = 'tenant-b1'): ClaimingDelegate => ({ id: `d-${i}`, tenantId, tags: ['linux'], taskTypes: ['echo'] });
      const windows: ClaimingDelegate = { id: 'd-win', tenantId: 'tenant-b1', tags: ['windows'], taskTypes: ['echo'] };
      const b1 = tasks.filter((t) => t.tenantId === 'tenant-b1');
      // Each tenant-b1 task claimed twice in the same turn (two delegates), plus claims that must
      // fail: wrong tags, and the other tenant's delegate.
      const claims = await Promise.all([
        ...b1.flatMap((t, i) => [
          store.claimTask({ taskId: t.id, delegate: linux(i % 3), now: at(100), leaseExpiresAt: at(130) }),
          store.claimTask({ taskId: t.id, delegate: linux(3 + (i % 3)), now: at(100), leaseExpiresAt: at(130) }),
        ]),
        store.claimTask({ taskId: tasks[3]!.id, delegate: windows, now: at(100), leaseExpiresAt: at(130) }),
        store.claimTask({ taskId: tasks[7]!.id, delegate: linux(9), now: at(100), leaseExpiresAt: at(130) }),
      ]);
      const won = claims.filter((c): c is TaskRecord => c !== null);
      expect(won).toHaveLength(b1.length);
      expect(new Set(won.map((c) => c.id)).size).toBe(b1.length);
      expect(claims.slice(-2)).toEqual([null, null]);

      // Mark running: the holder with the right attempt wins; a wrong attempt or delegate does not.
      const running = await Promise.all(
        won.flatMap((c) => [
          store.markRunning({ taskId: c.id, attempt: c.attempt, delegateId: c.delegateId!, now: at(101), leaseExpiresAt: at(160) }),
          store.markRunning({ taskId: c.id, attempt: c.attempt + 1, delegateId: c.delegateId!, now: at(101), leaseExpiresAt: at(160) }),
          store.markRunning({ taskId: c.id, attempt: c.attempt, delegateId: 'd-other', now: at(101), leaseExpiresAt: at(160) }),
        ]),
      );
      expect(running.filter((r) => r !== null).map((r) => r!.state)).toEqual(won.map(() => 'running'));

      // Two results for each attempt in one turn: exactly one is recorded, the first one asked.
      const ended = await Promise.all(
        won.flatMap((c) => [
          store.completeTask({ taskId: c.id, attempt: 1, delegateId: c.delegateId!, outcome: { state: 'succeeded', result: { first: c.id } }, now: at(102) }),
          store.completeTask({ taskId: c.id, attempt: 1, delegateId: c.delegateId!, outcome: { state: 'failed', error: { code: 'X', message: 'late', details: {} } }, now: at(103) }),
        ]),
      );
      for (let i = 0; i < won.length; i++) {
        expect(ended[2 * i]).toMatchObject({ id: won[i]!.id, state: 'succeeded', result: { first: won[i]!.id } });
        expect(ended[2 * i + 1]).toBeNull();
      }

      // Reads of one turn: each by its own tenant; another tenant's id is not found.
      const got = await Promise.all([...tasks.map((t) => store.getTask(t.tenantId, t.id)), store.getTask('tenant-b2', tasks[0]!.id)]);
      expect(got.slice(0, -1).map((t) => t?.state)).toEqual(tasks.map((t) => (t.tenantId === 'tenant-b1' ? 'succeeded' : 'queued')));
      expect(got.at(-1)).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('answers claimNext of many delegates in one turn from one read when there is nothing for them, and claims when there is', async () => {
    const url = await freshDatabase('turn_batches_claim_next');
    const store = await PostgresStore.open({ url });
    try {
      await store.migrate();
      await seedTenant(store, 'tenant-n1');
      await seedTenant(store, 'tenant-n2');
      await store.insertTask(task('tenant-n1', 1, { selectors: ['gpu'] }));
      await store.insertTask(task('tenant-n1', 2, { selectors: ['gpu'], type: 'aws.validate' }));
      const d = (id: string, tenantId: string, tags: string[], taskTypes = ['echo']): ClaimingDelegate => ({ id, tenantId, tags, taskTypes });
      const claim = (delegate: ClaimingDelegate) => store.claimNext({ delegate, now: at(50), leaseExpiresAt: at(80) });
      const answers = await Promise.all([
        claim(d('d-linux', 'tenant-n1', ['linux'])),
        claim(d('d-gpu-other-tenant', 'tenant-n2', ['gpu'])),
        claim(d('d-gpu-validate', 'tenant-n1', ['gpu', 'x'], ['aws.validate'])),
        claim(d('d-gpu', 'tenant-n1', ['gpu'])),
        claim(d('d-gpu-2', 'tenant-n1', ['gpu'])),
      ]);
      expect(answers.slice(0, 3).map((a) => a?.id ?? null)).toEqual([null, null, 'task-0002']);
      // Both gpu delegates see task-0001 queued; the fenced claim hands it to exactly one of them.
      const gpu = answers.slice(3).filter((a): a is TaskRecord => a !== null);
      expect(gpu.map((a) => a.id)).toEqual(['task-0001']);
      expect(gpu[0]).toMatchObject({ state: 'assigned', delegateId: expect.stringMatching(/^d-gpu(-2)?$/) });
      expect(await claim(d('d-gpu-3', 'tenant-n1', ['gpu']))).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('keeps every field of audit entries appended in one turn, and names delegates of several asks in one read', async () => {
    const url = await freshDatabase('turn_batches_audit');
    const store = await PostgresStore.open({ url });
    try {
      await store.migrate();
      await seedTenant(store, 'tenant-a1');
      const entries: AuditEntry[] = Array.from({ length: 12 }, (_, i) => ({
        id: `aud-${String(i).padStart(3, '0')}`,
        tenantId: 'tenant-a1',
        at: at(i),
        actor: i % 2 ? { type: 'anonymous' } : { type: 'operator' },
        role: i % 3 ? null : 'operator',
        clientAddress: i % 2 ? null : '10.0.0.1',
        userAgent: i % 2 ? null : 'curl/8 "quoted", {braced}',
        action: 'task.create',
        target: { type: 'task', id: `t-${i}`, name: i % 2 ? null : `name ${i}` },
        outcome: 'success',
        diff: i % 2 ? {} : { name: { changed: true, to: `x "${i}"` } },
        details: { i, nested: { list: [i, null, 'a,b'] } },
      }));
      await Promise.all(entries.map((e) => store.audit.append(e)));
      expect(await store.audit.list({ tenantId: 'tenant-a1', limit: 50 })).toEqual([...entries].reverse());

      for (const [id, name] of [['d-1', 'edge one'], ['d-2', 'edge two']] as const) {
        await store.upsertDelegate({
          id,
          tenantId: 'tenant-a1',
          tokenId: 'tok-1',
          name,
          instanceId: `i-${id}`,
          tags: ['linux'],
          taskTypes: ['echo'],
          maxConcurrency: 4,
          version: '0.1.0',
          transport: 'grpc',
          status: 'connected',
          inFlight: 0,
          replicaId: 'replica-a',
          sessionId: `s-${id}`,
          connectedAt: at(0),
          lastHeartbeatAt: at(0),
          disconnectedAt: null,
          policy: null,
        });
      }
      const names = await Promise.all([
        store.delegateNames('tenant-a1', ['d-1', 'd-2']),
        store.delegateNames('tenant-a1', ['d-2', 'd-missing']),
        store.delegateNames('other-tenant', ['d-1']),
      ]);
      expect(names.map((m) => Object.fromEntries(m))).toEqual([{ 'd-1': 'edge one', 'd-2': 'edge two' }, { 'd-2': 'edge two' }, {}]);
    } finally {
      await store.close();
    }
  });

  it('counts open tasks of several tenants in one statement from the quota index alone', async () => {
    const raw = new pg.Client({ connectionString: conformanceUrl });
    await raw.connect();
    try {
      await raw.query('SET enable_seqscan = off');
      const plan = await raw.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${BATCH.openTaskUsage.replace('$1::text[]', "ARRAY['ta', 'tb']")}`);
      expect(plan.rows.map((r) => r['QUERY PLAN']).join('\n')).toMatch(/Index Only Scan using tasks_tenant_open/);
    } finally {
      await raw.end();
    }
  });

  it('fails ping once closed', async () => {
    const store = await PostgresStore.open({ url: conformanceUrl });
    await store.ping();
    await store.close();
    await store.close();
    await expect(store.ping()).rejects.toThrow();
  });
});
