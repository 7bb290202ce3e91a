import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { payloadBytes } from './store.js';
import type {
  AuditEntry,
  AuditQuery,
  AwsAccountRecord,
  ClaimingDelegate,
  DelegateIdentityRecord,
  DelegateRecord,
  DelegateToken,
  Store,
  TaskError,
  TaskRecord,
} from './store.js';
import { StoreConflictError } from './store-errors.js';
import { runIdentityStoreConformance } from './identity-store.conformance.js';

/**
 * The behaviour every Store backend must share. `open` returns a store (it may be shared with
 * earlier tests: every record here gets fresh ids and names, and global counts are compared as
 * deltas); the suite calls `migrate()` itself, which also proves it is safe to repeat.
 */
export function runStoreConformance(
  name: string,
  open: () => Promise<Store>,
  close: (s: Store) => Promise<void> = (s) => s.close(),
): void {
  runIdentityStoreConformance(name, open, close);
  describe(`Store conformance: ${name}`, () => {
    let store: Store;
    let run: string;
    let seq = 0;
    const uid = (what: string) => `${run}-${what}-${String(++seq).padStart(4, '0')}`;

    const T0 = Date.UTC(2025, 0, 1);
    const at = (seconds: number) => new Date(T0 + seconds * 1000);
    const ERR: TaskError = { code: 'LEASE_EXPIRED', message: 'The delegate stopped answering.', details: { n: 1 } };

    beforeEach(async () => {
      run = randomUUID().slice(0, 8);
      store = await open();
      await store.migrate();
    });
    afterEach(async () => {
      await close(store);
    });

    async function newTenant(): Promise<string> {
      const id = uid('tenant');
      await store.createTenant(
        { id, name: `name-${id}`, externalId: `ext-${id}`, createdAt: at(0) },
        { id: uid('key'), tenantId: id, hash: `hash-${id}`, createdAt: at(0) },
      );
      return id;
    }

    function taskRecord(tenantId: string, over: Partial<TaskRecord> = {}): TaskRecord {
      return {
        id: uid('task'),
        tenantId,
        type: 'echo',
        payload: { message: 'hi', nested: { n: 1 } },
        selectors: [],
        priority: 0,
        state: 'queued',
        attempt: 1,
        maxAttempts: 3,
        delegateId: null,
        queueTimeoutSeconds: 60,
        runTimeoutSeconds: 30,
        result: null,
        error: null,
        accountId: null,
        requestedBy: null,
        createdAt: at(0),
        queuedAt: at(0),
        assignedAt: null,
        startedAt: null,
        endedAt: null,
        leaseExpiresAt: null,
        ...over,
      };
    }

    async function newTask(tenantId: string, over: Partial<TaskRecord> = {}): Promise<TaskRecord> {
      const t = taskRecord(tenantId, over);
      await store.insertTask(t);
      return t;
    }

    function claimer(tenantId: string, tags: string[] = [], taskTypes: string[] = ['echo']): ClaimingDelegate {
      return { id: uid('delegate'), tenantId, tags, taskTypes };
    }

    function delegateRecord(tenantId: string, over: Partial<DelegateRecord> = {}): DelegateRecord {
      const id = uid('delegate');
      return {
        id,
        tenantId,
        tokenId: uid('token'),
        name: `gw-${id}`,
        instanceId: `i-${id}`,
        tags: [`gw-${id}`, 'linux'],
        taskTypes: ['echo', 'aws.validate'],
        maxConcurrency: 4,
        version: '0.1.0',
        transport: 'grpc',
        status: 'connected',
        inFlight: 0,
        replicaId: `replica-${run}-a`,
        sessionId: uid('session'),
        connectedAt: at(0),
        lastHeartbeatAt: at(0),
        disconnectedAt: null,
        policy: null,
        ...over,
      };
    }

    function accountRecord(tenantId: string, over: Partial<AwsAccountRecord> = {}): AwsAccountRecord {
      const id = uid('account');
      return {
        id,
        tenantId,
        name: `acct-${id}`,
        description: 'prod',
        partition: 'aws',
        auth: { type: 'static', accessKeyId: 'env:AK', secretAccessKey: 'env:SK' },
        testRegion: 'us-east-1',
        delegateSelectors: ['east'],
        endpoints: { sts: 'https://sts.example' },
        gateway: null,
        policyArns: [],
        status: 'unvalidated',
        lastTaskId: null,
        lastCheckedAt: null,
        awsAccountId: null,
        arn: null,
        lastError: null,
        createdAt: at(0),
        updatedAt: at(0),
        ...over,
      };
    }

    /** Claims and starts `task` so fencing tests begin from a running task. */
    async function running(task: TaskRecord, d: ClaimingDelegate): Promise<TaskRecord> {
      const claimed = await store.claimTask({ taskId: task.id, delegate: d, now: at(1), leaseExpiresAt: at(31) });
      expect(claimed?.state).toBe('assigned');
      const started = await store.markRunning({ taskId: task.id, attempt: task.attempt, delegateId: d.id, now: at(2), leaseExpiresAt: at(32) });
      expect(started?.state).toBe('running');
      return started!;
    }

    describe('lifecycle', () => {
      it('answers ping and migrates again without harm', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
        await store.migrate();
        const t = await newTenant();
        await store.migrate();
        expect(await store.getTenant(t)).not.toBeNull();
        expect(typeof store.kind).toBe('string');
      });
    });

    describe('tenants and API keys', () => {
      it('stores a tenant and finds it by id and by API key hash', async () => {
        const id = await newTenant();
        const expected = { id, name: `name-${id}`, externalId: `ext-${id}`, createdAt: at(0), status: 'active', suspendedAt: null };
        expect(await store.getTenant(id)).toEqual(expected);
        expect((await store.identity.findApiKeyByHash(`hash-${id}`))?.key.tenantId).toBe(id);
        expect(await store.identity.findApiKeyByHash(`hash-${id}-nope`)).toBeNull();
        expect(await store.getTenant(uid('missing'))).toBeNull();
      });

      it('rejects a duplicate tenant name and a duplicate key hash, leaving nothing half-created', async () => {
        const a = await newTenant();
        const b = uid('tenant');
        const dupName = store.createTenant(
          { id: b, name: `name-${a}`, externalId: 'x', createdAt: at(0) },
          { id: uid('key'), tenantId: b, hash: `hash-${b}`, createdAt: at(0) },
        );
        await expect(dupName).rejects.toBeInstanceOf(StoreConflictError);
        await expect(dupName).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(await store.getTenant(b)).toBeNull();

        const dupKey = store.createTenant(
          { id: b, name: `name-${b}`, externalId: 'x', createdAt: at(0) },
          { id: uid('key'), tenantId: b, hash: `hash-${a}`, createdAt: at(0) },
        );
        await expect(dupKey).rejects.toBeInstanceOf(StoreConflictError);
        // The tenant row must not survive its key's failure.
        expect(await store.getTenant(b)).toBeNull();
        expect((await store.identity.findApiKeyByHash(`hash-${a}`))?.key.tenantId).toBe(a);
      });
    });

    describe('delegate tokens', () => {
      function tokenRecord(tenantId: string, over: Partial<DelegateToken> = {}): DelegateToken {
        const id = uid('token');
        return { id, tenantId, name: `tok-${id}`, hash: `th-${id}`, createdAt: at(0), revokedAt: null, group: null, tags: null, ...over };
      }

      it('creates, lists per tenant and finds by hash', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const t1 = tokenRecord(a, { createdAt: at(1) });
        const t2 = tokenRecord(a, { createdAt: at(2) });
        const other = tokenRecord(b);
        for (const t of [t1, t2, other]) await store.createDelegateToken(t);

        expect(await store.listDelegateTokens(a)).toEqual([t1, t2]);
        expect(await store.listDelegateTokens(b)).toEqual([other]);
        expect(await store.findDelegateTokenByHash(t2.hash)).toEqual(t2);
        expect(await store.findDelegateTokenByHash('no-such-hash')).toBeNull();
      });

      it('rejects a duplicate token hash', async () => {
        const a = await newTenant();
        const t = tokenRecord(a);
        await store.createDelegateToken(t);
        await expect(store.createDelegateToken(tokenRecord(a, { hash: t.hash }))).rejects.toBeInstanceOf(StoreConflictError);
      });

      it('revokes idempotently, keeping the first revocation time, and only within the tenant', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const t = tokenRecord(a);
        await store.createDelegateToken(t);

        expect(await store.revokeDelegateToken(b, t.id, at(5))).toBeNull();
        expect((await store.findDelegateTokenByHash(t.hash))?.revokedAt).toBeNull();

        expect(await store.revokeDelegateToken(a, t.id, at(5))).toEqual({ ...t, revokedAt: at(5) });
        expect(await store.revokeDelegateToken(a, t.id, at(9))).toEqual({ ...t, revokedAt: at(5) });
        expect((await store.findDelegateTokenByHash(t.hash))?.revokedAt).toEqual(at(5));
        expect(await store.revokeDelegateToken(a, uid('missing'), at(5))).toBeNull();
      });

      it('keeps a token’s binding: group and tags, an empty tag set apart from none', async () => {
        const a = await newTenant();
        const bound = tokenRecord(a, { createdAt: at(1), group: 'vpc-east', tags: ['aws', 'team/a', 'env:prod'] });
        const noTags = tokenRecord(a, { createdAt: at(2), group: 'vpc-east', tags: [] });
        const tagsOnly = tokenRecord(a, { createdAt: at(3), tags: ['lab'] });
        for (const t of [bound, noTags, tagsOnly]) await store.createDelegateToken(t);
        expect(await store.listDelegateTokens(a)).toEqual([bound, noTags, tagsOnly]);
        expect(await store.findDelegateTokenByHash(bound.hash)).toEqual(bound);
        expect(await store.findDelegateTokenByHash(noTags.hash)).toEqual(noTags);
        expect(await store.revokeDelegateToken(a, bound.id, at(4))).toEqual({ ...bound, revokedAt: at(4) });
      });

      it('a group is bound while a non-revoked token of the same tenant is bound to it', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const group = `g-${uid('grp').slice(-8).toLowerCase()}`;
        await store.createDelegateToken(tokenRecord(a, { tags: ['x'] }));
        await store.createDelegateToken(tokenRecord(a, { group: `${group}-other` }));
        expect(await store.isDelegateGroupBound(a, group)).toBe(false);

        const first = tokenRecord(a, { group });
        const second = tokenRecord(a, { group });
        await store.createDelegateToken(first);
        await store.createDelegateToken(second);
        expect(await store.isDelegateGroupBound(a, group)).toBe(true);
        expect(await store.isDelegateGroupBound(b, group)).toBe(false);
        expect(await store.isDelegateGroupBound(a, group.toUpperCase())).toBe(false);

        // Rotation: the group stays bound while any of its bound tokens is live.
        await store.revokeDelegateToken(a, first.id, at(5));
        expect(await store.isDelegateGroupBound(a, group)).toBe(true);
        await store.revokeDelegateToken(a, second.id, at(6));
        expect(await store.isDelegateGroupBound(a, group)).toBe(false);
      });
    });

    describe('delegates', () => {
      it('upserts by id and lists only the tenant’s delegates', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const d = delegateRecord(a);
        await store.upsertDelegate(d);
        await store.upsertDelegate(delegateRecord(b));
        expect(await store.listDelegates(a, at(0))).toEqual([d]);

        const replaced = { ...d, tags: ['x', 'y'], taskTypes: ['echo'], version: '0.2.0', inFlight: 2, connectedAt: at(10) };
        await store.upsertDelegate(replaced);
        expect(await store.listDelegates(a, at(0))).toEqual([replaced]);
        expect((await store.listDelegates(b, at(0))).map((x) => x.tenantId)).toEqual([b]);
      });

      it('keeps the policy a delegate reported, replaces it on reconnect, and null for one that sent none', async () => {
        const a = await newTenant();
        const policy = { digest: `sha256:${'ab'.repeat(32)}`, allowRefs: ['env:AWS_*', 'file:/var/run/secrets/attache/*'], allowEndpoints: ['http://127.0.0.1:5000', 'https://*.internal.example:8443'] };
        const withPolicy = delegateRecord(a, { policy });
        const without = delegateRecord(a);
        await store.upsertDelegate(withPolicy);
        await store.upsertDelegate(without);
        const listed = await store.listDelegates(a, at(0));
        expect(listed.find((d) => d.id === withPolicy.id)?.policy).toEqual(policy);
        expect(listed.find((d) => d.id === without.id)?.policy).toBeNull();

        const narrower = { digest: `sha256:${'cd'.repeat(32)}`, allowRefs: [], allowEndpoints: [] };
        await store.upsertDelegate({ ...withPolicy, policy: narrower, connectedAt: at(5) });
        await store.upsertDelegate({ ...without, policy });
        const again = await store.listDelegates(a, at(0));
        expect(again.find((d) => d.id === withPolicy.id)?.policy).toEqual(narrower);
        expect(again.find((d) => d.id === without.id)?.policy).toEqual(policy);
        await store.upsertDelegate({ ...withPolicy, policy: null });
        expect((await store.listDelegates(a, at(0))).find((d) => d.id === withPolicy.id)?.policy).toBeNull();
      });

      it('updates presence fields independently', async () => {
        const a = await newTenant();
        const d = delegateRecord(a);
        await store.upsertDelegate(d);

        await store.updateDelegatePresence(d.id, { inFlight: 3 });
        await store.updateDelegatePresence(d.id, { lastHeartbeatAt: at(7) });
        expect(await store.listDelegates(a, at(0))).toEqual([{ ...d, inFlight: 3, lastHeartbeatAt: at(7) }]);

        await store.updateDelegatePresence(d.id, { status: 'draining' });
        expect((await store.listDelegates(a, at(100)))[0]?.status).toBe('draining');

        await store.updateDelegatePresence(d.id, { status: 'disconnected', disconnectedAt: at(20) });
        // Disconnected delegates are listed only when they left at or after the cut-off.
        expect(await store.listDelegates(a, at(20))).toHaveLength(1);
        expect(await store.listDelegates(a, at(21))).toEqual([]);

        await store.updateDelegatePresence(d.id, { status: 'connected', disconnectedAt: null });
        expect(await store.listDelegates(a, at(1000))).toEqual([
          { ...d, inFlight: 3, lastHeartbeatAt: at(7), status: 'connected', disconnectedAt: null },
        ]);
      });

      it('ends a delegate only through its current connection; a replaced connection changes nothing', async () => {
        const a = await newTenant();
        const first = delegateRecord(a, { inFlight: 2 });
        await store.upsertDelegate(first);
        // The delegate reconnects (here or through another replica) before the old connection is noticed gone.
        const second = { ...first, sessionId: uid('session'), replicaId: `replica-${run}-b`, connectedAt: at(30) };
        await store.upsertDelegate(second);

        expect(await store.endDelegateSession(first.id, first.sessionId, at(40))).toBe(false);
        expect(await store.listDelegates(a, at(0))).toEqual([second]);

        expect(await store.endDelegateSession(first.id, second.sessionId, at(50))).toBe(true);
        expect(await store.listDelegates(a, at(0))).toEqual([{ ...second, status: 'disconnected', disconnectedAt: at(50), inFlight: 0 }]);
        expect(await store.endDelegateSession(uid('nobody'), second.sessionId, at(50))).toBe(false);
      });

      it('counts a tenant’s connected and draining delegates, leaving out one id', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const one = delegateRecord(a);
        const two = delegateRecord(a, { status: 'draining' });
        const gone = delegateRecord(a, { status: 'disconnected', disconnectedAt: at(1) });
        for (const d of [one, two, gone, delegateRecord(b)]) await store.upsertDelegate(d);
        expect(await store.countConnectedDelegates(a, uid('new'))).toBe(2);
        expect(await store.countConnectedDelegates(a, one.id)).toBe(1);
        expect(await store.countConnectedDelegates(b, uid('new'))).toBe(1);
        expect(await store.countConnectedDelegates(await newTenant(), uid('new'))).toBe(0);
      });

      it('disconnects the delegates of one replica only, and counts delegates by status and transport', async () => {
        const a = await newTenant();
        const before = await store.countDelegates();
        const count = (rows: typeof before, status: string, transport: string) =>
          rows.find((r) => r.status === status && r.transport === transport)?.count ?? 0;

        const mine1 = delegateRecord(a, { replicaId: `r1-${run}` });
        const mine2 = delegateRecord(a, { replicaId: `r1-${run}`, transport: 'nats' });
        const already = delegateRecord(a, { replicaId: `r1-${run}`, status: 'disconnected', disconnectedAt: at(3) });
        const theirs = delegateRecord(a, { replicaId: `r2-${run}` });
        for (const d of [mine1, mine2, already, theirs]) await store.upsertDelegate(d);

        await store.disconnectReplicaDelegates(`r1-${run}`, at(50));
        const listed = new Map((await store.listDelegates(a, at(0))).map((d) => [d.id, d]));
        expect(listed.get(mine1.id)).toMatchObject({ status: 'disconnected', disconnectedAt: at(50) });
        expect(listed.get(mine2.id)).toMatchObject({ status: 'disconnected', disconnectedAt: at(50) });
        // An earlier disconnection keeps its own time.
        expect(listed.get(already.id)).toMatchObject({ status: 'disconnected', disconnectedAt: at(3) });
        expect(listed.get(theirs.id)).toMatchObject({ status: 'connected', disconnectedAt: null });

        const after = await store.countDelegates();
        expect(count(after, 'disconnected', 'grpc') - count(before, 'disconnected', 'grpc')).toBe(2);
        expect(count(after, 'disconnected', 'nats') - count(before, 'disconnected', 'nats')).toBe(1);
        expect(count(after, 'connected', 'grpc') - count(before, 'connected', 'grpc')).toBe(1);
      });

      it('counts delegates not disconnected by reported version, over all tenants', async () => {
        const [a, b] = [await newTenant(), await newTenant()];
        const v = (n: number) => `9.${n}.0-conformance.${run.replace(/[^0-9A-Za-z-]/g, '')}`;
        const before = await store.countConnectedDelegatesByVersion();
        const count = (rows: typeof before, version: string) => rows.find((r) => r.version === version)?.count ?? 0;
        for (const d of [
          delegateRecord(a, { version: v(1) }),
          delegateRecord(b, { version: v(1), status: 'draining' }),
          delegateRecord(a, { version: v(2) }),
          delegateRecord(a, { version: v(2), status: 'disconnected', disconnectedAt: at(5) }),
        ]) await store.upsertDelegate(d);
        const after = await store.countConnectedDelegatesByVersion();
        expect(count(after, v(1)) - count(before, v(1))).toBe(2);
        expect(count(after, v(2)) - count(before, v(2))).toBe(1);
      });
    });

    describe('tasks: insert, get, list', () => {
      it('round-trips every field and hides the task from other tenants', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const t = await newTask(a, {
          selectors: ['east', 'linux'],
          priority: 5,
          accountId: 'acct-1',
          requestedBy: null,
          payload: { list: [1, 'two', { three: true }], empty: {} },
        });
        expect(await store.getTask(a, t.id)).toEqual(t);
        expect(await store.getTask(b, t.id)).toBeNull();
        expect(await store.getTask(a, uid('missing'))).toBeNull();
        await expect(store.insertTask(taskRecord(a, { id: t.id }))).rejects.toBeInstanceOf(StoreConflictError);
      });

      it('creates a batch of tasks in one step, or none of them when one id conflicts', async () => {
        const a = await newTenant();
        // A long queue timeout keeps these 600 out of the timeout listings other cases read with a limit.
        const batch = Array.from({ length: 600 }, (_, i) => taskRecord(a, { priority: i % 7, payload: { i }, queueTimeoutSeconds: 31_536_000 }));
        await store.createTasks(batch);
        for (const t of [batch[0]!, batch[299]!, batch[599]!]) expect(await store.getTask(a, t.id)).toEqual(t);
        expect((await store.openTaskUsage(a)).tasks).toBe(600);
        // The second batch carries one id the first stored (past the first chunk): nothing of it stays.
        const second = Array.from({ length: 520 }, () => taskRecord(a, { queueTimeoutSeconds: 31_536_000 }));
        second[510] = taskRecord(a, { id: batch[3]!.id });
        await expect(store.createTasks(second)).rejects.toBeInstanceOf(StoreConflictError);
        expect(await store.getTask(a, second[0]!.id)).toBeNull();
        expect(await store.getTask(a, second[509]!.id)).toBeNull();
        expect((await store.openTaskUsage(a)).tasks).toBe(600);
        await store.createTasks([]);
      });

      it('lists newest first with limit, filters and an id cursor', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const t1 = await newTask(a, { createdAt: at(1) });
        const t2 = await newTask(a, { createdAt: at(2), type: 'aws.validate' });
        const t3 = await newTask(a, { createdAt: at(3) });
        const t4 = await newTask(a, { createdAt: at(4), state: 'succeeded', result: { ok: true }, endedAt: at(5) });
        await newTask(b, { createdAt: at(5) });

        const ids = (ts: TaskRecord[]) => ts.map((t) => t.id);
        expect(ids(await store.listTasks(a, { limit: 10 }))).toEqual([t4.id, t3.id, t2.id, t1.id]);
        expect(ids(await store.listTasks(a, { limit: 2 }))).toEqual([t4.id, t3.id]);
        expect(ids(await store.listTasks(a, { limit: 2, beforeId: t3.id }))).toEqual([t2.id, t1.id]);
        expect(ids(await store.listTasks(a, { limit: 10, beforeId: t1.id }))).toEqual([]);
        expect(ids(await store.listTasks(a, { limit: 10, state: 'queued' }))).toEqual([t3.id, t2.id, t1.id]);
        expect(ids(await store.listTasks(a, { limit: 10, state: 'succeeded' }))).toEqual([t4.id]);
        expect(ids(await store.listTasks(a, { limit: 10, type: 'aws.validate' }))).toEqual([t2.id]);
        expect(ids(await store.listTasks(a, { limit: 10, state: 'queued', type: 'echo', beforeId: t3.id }))).toEqual([t1.id]);
        expect(await store.listTasks(a, { limit: 10 })).toContainEqual(t4);
        expect((await store.listTasks(b, { limit: 10 })).every((t) => t.tenantId === b)).toBe(true);
        expect(await store.listTasks(b, { limit: 10 })).toHaveLength(1);
      });
    });

    describe('tasks: claiming', () => {
      it('claims by priority, then oldest queuedAt, then id; and fills the assignment fields', async () => {
        const a = await newTenant();
        const low = await newTask(a, { priority: 0, queuedAt: at(0) });
        const highLate = await newTask(a, { priority: 9, queuedAt: at(5) });
        const highEarly = await newTask(a, { priority: 9, queuedAt: at(1) });
        const tie = uid('task');
        const midTieB = await newTask(a, { priority: 4, queuedAt: at(2), id: `${tie}-b` });
        const midTieA = await newTask(a, { priority: 4, queuedAt: at(2), id: `${tie}-a` });
        await newTask(a, { priority: 99, state: 'running', attempt: 1, delegateId: 'x', assignedAt: at(0), startedAt: at(0) });

        const d = claimer(a);
        const first = await store.claimNext({ delegate: d, now: at(10), leaseExpiresAt: at(40) });
        expect(first).toEqual({
          ...highEarly,
          state: 'assigned',
          delegateId: d.id,
          assignedAt: at(10),
          leaseExpiresAt: at(40),
        });
        const order = [first!.id];
        for (;;) {
          const next = await store.claimNext({ delegate: d, now: at(11), leaseExpiresAt: at(41) });
          if (!next) break;
          order.push(next.id);
        }
        expect(order).toEqual([highEarly.id, highLate.id, midTieA.id, midTieB.id, low.id]);
        expect(await store.getTask(a, low.id)).toMatchObject({ state: 'assigned', attempt: 1, delegateId: d.id });
      });

      it('claimQueued takes up to its limit in queue order, only eligible tasks, and never one twice', async () => {
        const a = await newTenant();
        const low = await newTask(a, { priority: 1, queuedAt: at(1) });
        const high = await newTask(a, { priority: 9, queuedAt: at(3) });
        const mid = await newTask(a, { priority: 5, queuedAt: at(2) });
        const other = await newTask(a, { priority: 9, selectors: ['gpu'] });
        await newTask(a, { priority: 99, state: 'running', attempt: 1, delegateId: 'x', assignedAt: at(0), startedAt: at(0) });
        const d = claimer(a);

        const two = await store.claimQueued({ delegate: d, now: at(10), leaseExpiresAt: at(40) }, 2);
        expect(two.map((t) => t.id)).toEqual([high.id, mid.id]);
        expect(two[0]).toEqual({ ...high, state: 'assigned', delegateId: d.id, assignedAt: at(10), leaseExpiresAt: at(40) });
        const rest = await store.claimQueued({ delegate: d, now: at(11), leaseExpiresAt: at(41) }, 10);
        expect(rest.map((t) => t.id)).toEqual([low.id]);
        expect(await store.claimQueued({ delegate: d, now: at(12), leaseExpiresAt: at(42) }, 10)).toEqual([]);
        expect((await store.getTask(a, other.id))?.state).toBe('queued');
        expect((await store.claimQueued({ delegate: claimer(a, ['gpu']), now: at(12), leaseExpiresAt: at(42) }, 10)).map((t) => t.id)).toEqual([other.id]);
      });

      it('concurrent claimQueued calls never hand out one task twice', async () => {
        const a = await newTenant();
        const ids = new Set<string>();
        for (let i = 0; i < 12; i++) ids.add((await newTask(a)).id);
        const claims = await Promise.all(
          Array.from({ length: 6 }, (_, i) => store.claimQueued({ delegate: claimer(a), now: at(20 + i), leaseExpiresAt: at(50) }, 3)),
        );
        const taken = claims.flat().map((t) => t.id);
        expect(new Set(taken).size).toBe(taken.length);
        expect(new Set(taken)).toEqual(ids);
      });

      it('claims made together by delegates of different eligibility each get only tasks they may run, in queue order, none twice', async () => {
        const a = await newTenant();
        const plain: string[] = [];
        const gpu: string[] = [];
        for (let i = 0; i < 6; i++) plain.push((await newTask(a, { priority: 6 - i, queuedAt: at(1) })).id);
        for (let i = 0; i < 4; i++) gpu.push((await newTask(a, { priority: 4 - i, selectors: ['gpu'], queuedAt: at(1) })).id);
        const plainA = claimer(a);
        const plainB = claimer(a);
        const gpuC = claimer(a, ['gpu']);
        const [ca, cb, cc] = await Promise.all([
          store.claimQueued({ delegate: plainA, now: at(10), leaseExpiresAt: at(40) }, 4),
          store.claimQueued({ delegate: plainB, now: at(11), leaseExpiresAt: at(41) }, 4),
          store.claimQueued({ delegate: gpuC, now: at(12), leaseExpiresAt: at(42) }, 16),
        ]);
        // The gpu delegate may run every task; the plain ones only the tasks without selectors.
        const all = [...ca!, ...cb!, ...cc!].map((t) => t.id);
        expect(new Set(all).size).toBe(all.length);
        expect(new Set(all)).toEqual(new Set([...plain, ...gpu]));
        for (const t of [...ca!, ...cb!]) expect(plain).toContain(t.id);
        for (const [claimed, d, when] of [[ca!, plainA, 10], [cb!, plainB, 11], [cc!, gpuC, 12]] as const) {
          for (const t of claimed) expect(t).toMatchObject({ state: 'assigned', delegateId: d.id, assignedAt: at(when), leaseExpiresAt: at(when + 30) });
          const stored = await Promise.all(claimed.map((t) => store.getTask(a, t.id)));
          expect(stored.map((t) => t?.delegateId)).toEqual(claimed.map(() => d.id));
          // Each claim's tasks come back in queue order (priority first).
          expect(claimed.map((t) => t.priority)).toEqual([...claimed.map((t) => t.priority)].sort((x, y) => y - x));
        }
        expect(ca!.length + cb!.length).toBeLessThanOrEqual(8);
        expect(await store.claimQueued({ delegate: gpuC, now: at(13), leaseExpiresAt: at(43) }, 16)).toEqual([]);
      });

      it('claims only tasks whose every selector the delegate carries', async () => {
        const a = await newTenant();
        const ab = await newTask(a, { selectors: ['a', 'b'] });
        expect(await store.claimNext({ delegate: claimer(a, ['a']), now: at(1), leaseExpiresAt: at(31) })).toBeNull();
        expect(await store.claimNext({ delegate: claimer(a, ['b', 'c']), now: at(1), leaseExpiresAt: at(31) })).toBeNull();
        expect(await store.claimNext({ delegate: claimer(a, []), now: at(1), leaseExpiresAt: at(31) })).toBeNull();
        expect((await store.getTask(a, ab.id))?.state).toBe('queued');

        const wide = claimer(a, ['c', 'b', 'a']);
        expect((await store.claimNext({ delegate: wide, now: at(1), leaseExpiresAt: at(31) }))?.id).toBe(ab.id);

        // No selectors: any delegate of the tenant will do.
        const open = await newTask(a, { selectors: [] });
        expect((await store.claimNext({ delegate: claimer(a, []), now: at(1), leaseExpiresAt: at(31) }))?.id).toBe(open.id);
      });

      it('skips an ineligible better task for an eligible worse one', async () => {
        const a = await newTenant();
        await newTask(a, { priority: 9, selectors: ['gpu'] });
        await newTask(a, { priority: 8, type: 'aws.validate' });
        const plain = await newTask(a, { priority: 1 });
        expect((await store.claimNext({ delegate: claimer(a, ['linux'], ['echo']), now: at(1), leaseExpiresAt: at(31) }))?.id).toBe(plain.id);
      });

      it('claims only task types the delegate supports', async () => {
        const a = await newTenant();
        const v = await newTask(a, { type: 'aws.validate' });
        expect(await store.claimNext({ delegate: claimer(a, [], ['echo']), now: at(1), leaseExpiresAt: at(31) })).toBeNull();
        expect(await store.claimNext({ delegate: claimer(a, [], []), now: at(1), leaseExpiresAt: at(31) })).toBeNull();
        expect((await store.claimNext({ delegate: claimer(a, [], ['echo', 'aws.validate']), now: at(1), leaseExpiresAt: at(31) }))?.id).toBe(v.id);
      });

      it('never hands a task to a delegate of another tenant', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const t = await newTask(a, { selectors: ['shared'] });
        const foreign = claimer(b, ['shared'], ['echo']);
        expect(await store.claimNext({ delegate: foreign, now: at(1), leaseExpiresAt: at(31) })).toBeNull();
        expect(await store.claimTask({ taskId: t.id, delegate: foreign, now: at(1), leaseExpiresAt: at(31) })).toBeNull();
        expect((await store.getTask(a, t.id))?.state).toBe('queued');
      });

      it('hands each task out once under concurrent claims', async () => {
        const a = await newTenant();
        const tasks = await Promise.all(Array.from({ length: 10 }, (_, i) => newTask(a, { queuedAt: at(i) })));
        const delegates = Array.from({ length: 5 }, () => claimer(a));
        const claims = await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.claimNext({ delegate: delegates[i % delegates.length]!, now: at(100), leaseExpiresAt: at(130) })),
        );
        const won = claims.filter((c): c is TaskRecord => c !== null);
        expect(won).toHaveLength(10);
        expect(new Set(won.map((c) => c.id))).toEqual(new Set(tasks.map((t) => t.id)));
        for (const c of won) {
          const stored = await store.getTask(a, c.id);
          expect(stored).toMatchObject({ state: 'assigned', delegateId: c.delegateId });
        }
      });

      it('claimTask assigns one eligible queued task and refuses otherwise', async () => {
        const a = await newTenant();
        const t = await newTask(a, { selectors: ['east'] });
        const other = await newTask(a, { priority: 100 });

        expect(await store.claimTask({ taskId: t.id, delegate: claimer(a, ['west']), now: at(1), leaseExpiresAt: at(31) })).toBeNull();
        expect(await store.claimTask({ taskId: t.id, delegate: claimer(a, ['east'], ['aws.validate']), now: at(1), leaseExpiresAt: at(31) })).toBeNull();
        expect((await store.getTask(a, t.id))?.state).toBe('queued');

        const d = claimer(a, ['east', 'linux']);
        expect(await store.claimTask({ taskId: t.id, delegate: d, now: at(2), leaseExpiresAt: at(32) })).toEqual({
          ...t,
          state: 'assigned',
          delegateId: d.id,
          assignedAt: at(2),
          leaseExpiresAt: at(32),
        });
        // No longer queued: a second claimer loses.
        expect(await store.claimTask({ taskId: t.id, delegate: claimer(a, ['east']), now: at(3), leaseExpiresAt: at(33) })).toBeNull();
        expect((await store.getTask(a, t.id))?.delegateId).toBe(d.id);
        expect((await store.getTask(a, other.id))?.state).toBe('queued');
        expect(await store.claimTask({ taskId: uid('missing'), delegate: d, now: at(3), leaseExpiresAt: at(33) })).toBeNull();
      });
    });

    describe('tasks: fenced transitions', () => {
      it('markRunning needs the attempt, the delegate and the assigned state', async () => {
        const a = await newTenant();
        const t = await newTask(a);
        const d = claimer(a);
        await store.claimTask({ taskId: t.id, delegate: d, now: at(1), leaseExpiresAt: at(31) });

        expect(await store.markRunning({ taskId: t.id, attempt: 2, delegateId: d.id, now: at(2), leaseExpiresAt: at(32) })).toBeNull();
        expect(await store.markRunning({ taskId: t.id, attempt: 1, delegateId: 'someone-else', now: at(2), leaseExpiresAt: at(32) })).toBeNull();
        expect((await store.getTask(a, t.id))?.state).toBe('assigned');

        const started = await store.markRunning({ taskId: t.id, attempt: 1, delegateId: d.id, now: at(2), leaseExpiresAt: at(32) });
        expect(started).toMatchObject({ state: 'running', startedAt: at(2), leaseExpiresAt: at(32), assignedAt: at(1) });
        // Already running: a duplicate Accepted does not restart it.
        expect(await store.markRunning({ taskId: t.id, attempt: 1, delegateId: d.id, now: at(3), leaseExpiresAt: at(33) })).toBeNull();
        expect((await store.getTask(a, t.id))?.startedAt).toEqual(at(2));
      });

      it('completeTask needs the attempt and the delegate, from assigned or running', async () => {
        const a = await newTenant();
        const d = claimer(a);
        const t = await newTask(a);
        await running(t, d);

        const ok = { state: 'succeeded', result: { answer: 42 } } as const;
        expect(await store.completeTask({ taskId: t.id, attempt: 2, delegateId: d.id, outcome: ok, now: at(5) })).toBeNull();
        expect(await store.completeTask({ taskId: t.id, attempt: 1, delegateId: 'someone-else', outcome: ok, now: at(5) })).toBeNull();
        expect((await store.getTask(a, t.id))?.state).toBe('running');

        const done = await store.completeTask({ taskId: t.id, attempt: 1, delegateId: d.id, outcome: ok, now: at(5) });
        expect(done).toMatchObject({ state: 'succeeded', result: { answer: 42 }, error: null, endedAt: at(5), leaseExpiresAt: null });
        expect(await store.completeTask({ taskId: t.id, attempt: 1, delegateId: d.id, outcome: { state: 'failed', error: ERR }, now: at(6) })).toBeNull();
        expect(await store.getTask(a, t.id)).toEqual(done);

        // Straight from assigned (a delegate may finish before its Accepted is processed).
        const t2 = await newTask(a);
        await store.claimTask({ taskId: t2.id, delegate: d, now: at(1), leaseExpiresAt: at(31) });
        const failed = await store.completeTask({ taskId: t2.id, attempt: 1, delegateId: d.id, outcome: { state: 'failed', error: ERR }, now: at(4) });
        expect(failed).toMatchObject({ state: 'failed', error: ERR, result: null, endedAt: at(4) });

        // From assigned with the time the delegate accepted it: kept as started_at, unless the row has one.
        const t4 = await newTask(a);
        await store.claimTask({ taskId: t4.id, delegate: d, now: at(1), leaseExpiresAt: at(31) });
        const quick = await store.completeTask({ taskId: t4.id, attempt: 1, delegateId: d.id, outcome: ok, now: at(4), startedAt: at(2) });
        expect(quick).toMatchObject({ state: 'succeeded', assignedAt: at(1), startedAt: at(2), endedAt: at(4) });
        expect((await store.completeTask({ taskId: t.id, attempt: 1, delegateId: d.id, outcome: ok, now: at(9), startedAt: at(8) }))).toBeNull();
        const t5 = await newTask(a);
        await running(t5, d);
        const startedBefore = (await store.getTask(a, t5.id))?.startedAt;
        const late = await store.completeTask({ taskId: t5.id, attempt: 1, delegateId: d.id, outcome: ok, now: at(9), startedAt: at(8) });
        expect(late?.startedAt).toEqual(startedBefore);

        // Queued tasks cannot be completed at all.
        const t3 = await newTask(a);
        expect(await store.completeTask({ taskId: t3.id, attempt: 1, delegateId: d.id, outcome: ok, now: at(4) })).toBeNull();
      });

      it('requeue increments the attempt, clears the assignment, and fences out the old attempt', async () => {
        const a = await newTenant();
        const d1 = claimer(a);
        const d2 = claimer(a);
        const t = await newTask(a, { queuedAt: at(0) });
        await running(t, d1);

        expect(await store.requeueTask({ taskId: t.id, attempt: 2, now: at(10), exhaustedError: ERR })).toBeNull();
        const requeued = await store.requeueTask({ taskId: t.id, attempt: 1, now: at(10), exhaustedError: ERR });
        expect(requeued).toEqual({ ...t, attempt: 2, queuedAt: at(10) });
        // Requeued once, not twice: the same attempt cannot be requeued again.
        expect(await store.requeueTask({ taskId: t.id, attempt: 1, now: at(11), exhaustedError: ERR })).toBeNull();

        // A late result or Accepted from attempt 1 is dropped, by its delegate or any other.
        const late = { state: 'succeeded', result: { stale: true } } as const;
        expect(await store.completeTask({ taskId: t.id, attempt: 1, delegateId: d1.id, outcome: late, now: at(12) })).toBeNull();
        expect(await store.markRunning({ taskId: t.id, attempt: 1, delegateId: d1.id, now: at(12), leaseExpiresAt: at(40) })).toBeNull();

        const again = await store.claimNext({ delegate: d2, now: at(13), leaseExpiresAt: at(43) });
        expect(again).toMatchObject({ id: t.id, attempt: 2, delegateId: d2.id });
        expect(await store.completeTask({ taskId: t.id, attempt: 1, delegateId: d2.id, outcome: late, now: at(14) })).toBeNull();
        expect(await store.completeTask({ taskId: t.id, attempt: 2, delegateId: d1.id, outcome: late, now: at(14) })).toBeNull();
        expect(await store.completeTask({ taskId: t.id, attempt: 2, delegateId: d2.id, outcome: { state: 'succeeded', result: { fresh: true } }, now: at(15) })).toMatchObject({
          state: 'succeeded',
          attempt: 2,
          result: { fresh: true },
        });
        // Terminal tasks are not requeued.
        expect(await store.requeueTask({ taskId: t.id, attempt: 2, now: at(16), exhaustedError: ERR })).toBeNull();
      });

      it('requeue fails the task with the given error once max attempts are used', async () => {
        const a = await newTenant();
        const d = claimer(a);
        const t = await newTask(a, { maxAttempts: 2 });
        await store.claimTask({ taskId: t.id, delegate: d, now: at(1), leaseExpiresAt: at(31) });
        expect(await store.requeueTask({ taskId: t.id, attempt: 1, now: at(2), exhaustedError: ERR })).toMatchObject({ state: 'queued', attempt: 2 });

        await store.claimNext({ delegate: d, now: at(3), leaseExpiresAt: at(33) });
        const exhausted = await store.requeueTask({ taskId: t.id, attempt: 2, now: at(4), exhaustedError: ERR });
        expect(exhausted).toMatchObject({ state: 'failed', attempt: 2, error: ERR, endedAt: at(4), leaseExpiresAt: null });
        expect(await store.getTask(a, t.id)).toEqual(exhausted);
        expect(await store.claimNext({ delegate: d, now: at(5), leaseExpiresAt: at(35) })).toBeNull();
      });

      it('requeue refuses a queued task', async () => {
        const a = await newTenant();
        const t = await newTask(a);
        expect(await store.requeueTask({ taskId: t.id, attempt: 1, now: at(1), exhaustedError: ERR })).toBeNull();
        expect(await store.getTask(a, t.id)).toEqual(t);
      });
    });

    describe('tasks: leases and timeouts', () => {
      it('extends the leases of the listed active tasks of a delegate and lists expired ones', async () => {
        const a = await newTenant();
        const d = claimer(a);
        const other = claimer(a);
        const t1 = await newTask(a, { queuedAt: at(0) });
        const t2 = await newTask(a, { queuedAt: at(1) });
        const t3 = await newTask(a, { queuedAt: at(2) });
        await store.claimTask({ taskId: t1.id, delegate: d, now: at(1), leaseExpiresAt: at(10) });
        await store.claimTask({ taskId: t2.id, delegate: d, now: at(1), leaseExpiresAt: at(10) });
        await store.markRunning({ taskId: t2.id, attempt: 1, delegateId: d.id, now: at(2), leaseExpiresAt: at(10) });
        await store.claimTask({ taskId: t3.id, delegate: other, now: at(1), leaseExpiresAt: at(10) });
        const done = await newTask(a);
        await store.claimTask({ taskId: done.id, delegate: d, now: at(1), leaseExpiresAt: at(5) });
        await store.completeTask({ taskId: done.id, attempt: 1, delegateId: d.id, outcome: { state: 'succeeded', result: {} }, now: at(3) });

        expect(new Set((await store.listActiveTasksOfDelegate(d.id)).map((t) => t.id))).toEqual(new Set([t1.id, t2.id]));
        expect(await store.listActiveTasksOfDelegate(uid('nobody'))).toEqual([]);

        // Only the listed tasks that are the delegate's and active: t3 is another delegate's, done has ended.
        await store.extendLeases(d.id, [t1.id, t3.id, done.id, uid('missing')], at(30));
        expect((await store.getTask(a, t1.id))?.leaseExpiresAt).toEqual(at(30));
        expect((await store.getTask(a, t2.id))?.leaseExpiresAt).toEqual(at(10));
        expect((await store.getTask(a, t3.id))?.leaseExpiresAt).toEqual(at(10));
        expect((await store.getTask(a, done.id))?.leaseExpiresAt).toBeNull();
        await store.extendLeases(d.id, [], at(99));
        expect((await store.getTask(a, t1.id))?.leaseExpiresAt).toEqual(at(30));

        await store.extendLeases(d.id, [t1.id, t2.id], at(60));
        expect((await store.getTask(a, t1.id))?.leaseExpiresAt).toEqual(at(60));
        expect((await store.getTask(a, t2.id))?.leaseExpiresAt).toEqual(at(60));
        expect((await store.getTask(a, t3.id))?.leaseExpiresAt).toEqual(at(10));
        expect((await store.getTask(a, done.id))?.leaseExpiresAt).toBeNull();

        const mine = (ts: TaskRecord[]) => ts.filter((t) => t.tenantId === a).map((t) => t.id);
        expect(mine(await store.listExpiredLeases(at(10), 100))).toEqual([]);
        expect(mine(await store.listExpiredLeases(at(11), 100))).toEqual([t3.id]);
        expect(new Set(mine(await store.listExpiredLeases(at(61), 100)))).toEqual(new Set([t1.id, t2.id, t3.id]));
        expect(await store.listExpiredLeases(at(61), 2)).toHaveLength(2);
      });

      it('lists queued tasks past their queue timeout, counted from queuedAt', async () => {
        const a = await newTenant();
        const d = claimer(a);
        const t1 = await newTask(a, { queuedAt: at(0), queueTimeoutSeconds: 10 });
        const t2 = await newTask(a, { queuedAt: at(5), queueTimeoutSeconds: 10 });
        const t3 = await newTask(a, { queuedAt: at(0), queueTimeoutSeconds: 100 });
        const mine = async (now: Date) =>
          new Set((await store.listQueueTimedOut(now, 100)).filter((t) => t.tenantId === a).map((t) => t.id));

        expect(await mine(at(10))).toEqual(new Set());
        expect(await mine(at(11))).toEqual(new Set([t1.id]));
        expect(await mine(at(16))).toEqual(new Set([t1.id, t2.id]));
        expect(await store.listQueueTimedOut(at(16), 1)).toHaveLength(1);

        // A requeue restarts the queue clock; an assigned task is not queued at all.
        await store.claimTask({ taskId: t1.id, delegate: d, now: at(16), leaseExpiresAt: at(40) });
        expect(await mine(at(16))).toEqual(new Set([t2.id]));
        await store.requeueTask({ taskId: t1.id, attempt: 1, now: at(20), exhaustedError: ERR });
        expect(await mine(at(25))).toEqual(new Set([t2.id]));
        expect(await mine(at(31))).toEqual(new Set([t1.id, t2.id]));
        expect((await mine(at(101))).has(t3.id)).toBe(true);
      });

      it('lists active tasks past their run timeout, from startedAt or else assignedAt', async () => {
        const a = await newTenant();
        const d = claimer(a);
        const assigned = await newTask(a, { runTimeoutSeconds: 10 });
        const started = await newTask(a, { runTimeoutSeconds: 10 });
        const queued = await newTask(a, { runTimeoutSeconds: 1, queuedAt: at(0) });
        await store.claimTask({ taskId: assigned.id, delegate: d, now: at(0), leaseExpiresAt: at(1000) });
        await store.claimTask({ taskId: started.id, delegate: d, now: at(0), leaseExpiresAt: at(1000) });
        await store.markRunning({ taskId: started.id, attempt: 1, delegateId: d.id, now: at(5), leaseExpiresAt: at(1000) });
        const mine = async (now: Date) =>
          new Set((await store.listRunTimedOut(now, 100)).filter((t) => t.tenantId === a).map((t) => t.id));

        expect(await mine(at(10))).toEqual(new Set());
        expect(await mine(at(11))).toEqual(new Set([assigned.id]));
        expect(await mine(at(16))).toEqual(new Set([assigned.id, started.id]));
        expect((await mine(at(1000))).has(queued.id)).toBe(false);
        expect(await store.listRunTimedOut(at(16), 1)).toHaveLength(1);
      });
    });

    describe('tasks: finishing', () => {
      it('ends a task only from the named states, at the given attempt, within the tenant', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const d = claimer(a);
        const cancel: TaskError = { code: 'CANCELLED', message: 'Cancelled by the user.', details: {} };

        const t = await newTask(a);
        expect(await store.finishTask({ tenantId: b, taskId: t.id, fromStates: ['queued'], state: 'cancelled', error: cancel, now: at(1) })).toBeNull();
        expect(await store.finishTask({ tenantId: a, taskId: t.id, fromStates: ['assigned', 'running'], state: 'cancelled', error: cancel, now: at(1) })).toBeNull();
        expect(await store.getTask(a, t.id)).toEqual(t);

        const cancelled = await store.finishTask({ tenantId: a, taskId: t.id, fromStates: ['queued', 'assigned', 'running'], state: 'cancelled', error: cancel, now: at(2) });
        expect(cancelled).toEqual({ ...t, state: 'cancelled', error: cancel, endedAt: at(2) });
        expect(await store.finishTask({ tenantId: a, taskId: t.id, fromStates: ['queued'], state: 'expired', error: ERR, now: at(3) })).toBeNull();
        expect(await store.getTask(a, t.id)).toEqual(cancelled);

        const r = await newTask(a);
        await running(r, d);
        expect(await store.finishTask({ tenantId: a, taskId: r.id, fromStates: ['running'], state: 'failed', error: ERR, now: at(5), attempt: 2 })).toBeNull();
        expect(await store.finishTask({ tenantId: a, taskId: r.id, fromStates: ['running'], state: 'failed', error: ERR, now: at(5), attempt: 1 })).toMatchObject({
          state: 'failed',
          error: ERR,
          endedAt: at(5),
          leaseExpiresAt: null,
        });
        // The delegate's result after the timeout is dropped.
        expect(await store.completeTask({ taskId: r.id, attempt: 1, delegateId: d.id, outcome: { state: 'succeeded', result: {} }, now: at(6) })).toBeNull();

        const q = await newTask(a);
        expect(await store.finishTask({ tenantId: a, taskId: q.id, fromStates: ['queued'], state: 'expired', error: ERR, now: at(7) })).toMatchObject({ state: 'expired', error: ERR });
        expect(await store.finishTask({ tenantId: a, taskId: uid('missing'), fromStates: ['queued'], state: 'expired', error: ERR, now: at(7) })).toBeNull();
      });
    });

    describe('tasks: statistics', () => {
      it('groups a tenant’s queued tasks by selectors and type', async () => {
        const a = await newTenant();
        const b = await newTenant();
        await newTask(a, { selectors: ['a', 'b'], queuedAt: at(5) });
        await newTask(a, { selectors: ['a', 'b'], queuedAt: at(3) });
        await newTask(a, { selectors: ['a', 'b'], type: 'aws.validate', queuedAt: at(7) });
        await newTask(a, { selectors: [], queuedAt: at(1) });
        await newTask(a, { selectors: ['a', 'b'], state: 'running', delegateId: 'x', assignedAt: at(0), startedAt: at(0) });
        await newTask(b, { selectors: ['a', 'b'], queuedAt: at(0) });

        const stats = await store.queueStats(a);
        const key = (s: { selectors: string[]; type: string }) => `${s.type}|${s.selectors.join(',')}`;
        expect([...stats].sort((x, y) => key(x).localeCompare(key(y)))).toEqual([
          { selectors: ['a', 'b'], type: 'aws.validate', queued: 1, oldestQueuedAt: at(7) },
          { selectors: [], type: 'echo', queued: 1, oldestQueuedAt: at(1) },
          { selectors: ['a', 'b'], type: 'echo', queued: 2, oldestQueuedAt: at(3) },
        ]);
        expect(await store.queueStats(await newTenant())).toEqual([]);
      });

      it('counts tasks per type and state over all tenants', async () => {
        const type = `stat-${run}`;
        const before = await store.globalTaskStats();
        const a = await newTenant();
        const b = await newTenant();
        await newTask(a, { type, queuedAt: at(-100) });
        await newTask(b, { type, queuedAt: at(-50) });
        await newTask(a, { type, state: 'succeeded', result: {}, endedAt: at(1) });

        const after = await store.globalTaskStats();
        const mine = after.byTypeAndState.filter((r) => r.type === type).sort((x, y) => x.state.localeCompare(y.state));
        expect(mine).toEqual([
          { type, state: 'queued', count: 2 },
          { type, state: 'succeeded', count: 1 },
        ]);
        expect(after.queued - before.queued).toBe(2);
        expect(after.oldestQueuedAt).not.toBeNull();
        expect(after.oldestQueuedAt!.getTime()).toBeLessThanOrEqual(at(-100).getTime());
      });
    });

    describe('tasks: quotas and retention', () => {
      it('counts a tenant’s tasks that have not ended and their payload bytes, and nothing else', async () => {
        const a = await newTenant();
        const b = await newTenant();
        expect(await store.openTaskUsage(a)).toEqual({ tasks: 0, payloadBytes: 0 });
        const d = claimer(a);
        const queued = await newTask(a, { payload: { message: 'x'.repeat(1000) } });
        const claimed = await newTask(a, { payload: { message: 'ü'.repeat(10) } }); // multi-byte: bytes, not characters
        const run = await newTask(a);
        await newTask(a, { state: 'succeeded', result: {}, endedAt: at(1) });
        await newTask(a, { state: 'failed', error: ERR, endedAt: at(1) });
        await newTask(b, { payload: { message: 'other tenant' } });
        expect(await store.claimTask({ taskId: claimed.id, delegate: d, now: at(1), leaseExpiresAt: at(31) })).not.toBeNull();
        await running(run, d);

        const bytes = [queued, claimed, run].reduce((sum, t) => sum + payloadBytes(t.payload), 0);
        expect(payloadBytes(claimed.payload)).toBe(JSON.stringify(claimed.payload).length + 10);
        expect(await store.openTaskUsage(a)).toEqual({ tasks: 3, payloadBytes: bytes });

        // A requeue keeps the task open; an end takes it off.
        expect(await store.requeueTask({ taskId: claimed.id, attempt: 1, now: at(5), exhaustedError: ERR })).not.toBeNull();
        expect(await store.openTaskUsage(a)).toEqual({ tasks: 3, payloadBytes: bytes });
        await store.completeTask({ taskId: run.id, attempt: 1, delegateId: d.id, outcome: { state: 'succeeded', result: {} }, now: at(6) });
        await store.finishTask({ tenantId: a, taskId: queued.id, fromStates: ['queued'], state: 'cancelled', error: ERR, now: at(6) });
        expect(await store.openTaskUsage(a)).toEqual({ tasks: 1, payloadBytes: payloadBytes(claimed.payload) });
        expect((await store.openTaskUsage(b)).tasks).toBe(1);
      });

      it('deletes ended tasks older than the cutoff in bounded batches, oldest first, keeping open and recent ones', async () => {
        const a = await newTenant();
        // Far older than any other test's tasks, so batches here are about these rows only.
        const old = (seconds: number) => new Date(Date.UTC(2000, 0, 1) + seconds * 1000);
        const ended = [];
        for (let i = 1; i <= 5; i++) {
          ended.push(await newTask(a, { state: i % 2 ? 'succeeded' : 'failed', result: i % 2 ? { i } : null, error: i % 2 ? null : ERR, createdAt: old(0), queuedAt: old(0), endedAt: old(i) }));
        }
        const recent = await newTask(a, { state: 'cancelled', error: ERR, createdAt: old(0), queuedAt: old(0), endedAt: old(10_000) });
        const stillQueued = await newTask(a, { createdAt: old(0), queuedAt: old(0) });
        const stillRunning = await running(await newTask(a, { createdAt: old(0), queuedAt: old(0) }), claimer(a));

        const cutoff = old(100);
        expect(await store.deleteEndedTasks(cutoff, 2)).toBe(2);
        expect(await store.getTask(a, ended[0]!.id)).toBeNull();
        expect(await store.getTask(a, ended[1]!.id)).toBeNull();
        expect(await store.getTask(a, ended[2]!.id)).not.toBeNull();
        expect(await store.deleteEndedTasks(cutoff, 10)).toBe(3);
        expect(await store.deleteEndedTasks(cutoff, 10)).toBe(0);
        for (const t of ended) expect(await store.getTask(a, t.id)).toBeNull();
        for (const t of [recent, stillQueued, stillRunning]) expect(await store.getTask(a, t.id)).not.toBeNull();
        expect((await store.listTasks(a, { limit: 100 })).map((t) => t.id).sort()).toEqual([recent.id, stillQueued.id, stillRunning.id].sort());
      });
    });

    describe('AWS accounts', () => {
      it('keeps account ids unique per tenant: another tenant may take the same id, and neither sees or touches the other’s', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const mine = accountRecord(a, { name: 'prod' });
        await store.createAccount(mine);
        const theirs = accountRecord(b, { id: mine.id, name: 'prod', description: 'b' });
        await store.createAccount(theirs);
        // The same id again within one tenant still conflicts.
        await expect(store.createAccount(accountRecord(a, { id: mine.id, name: 'other' }))).rejects.toBeInstanceOf(StoreConflictError);

        expect(await store.getAccount(a, mine.id)).toEqual(mine);
        expect(await store.getAccount(b, mine.id)).toEqual(theirs);
        expect(await store.listAccounts(b)).toEqual([theirs]);
        expect((await store.updateAccount(b, mine.id, { description: 'changed by b' }, at(5)))?.tenantId).toBe(b);
        expect((await store.getAccount(a, mine.id))?.description).toBe(mine.description);
        expect(await store.startValidation(b, mine.id, uid('task'), at(6))).not.toBeNull();
        expect((await store.getAccount(a, mine.id))?.status).toBe('unvalidated');
        expect(await store.deleteAccount(b, mine.id)).toBe(true);
        expect(await store.getAccount(a, mine.id)).toEqual(mine);
        expect(await store.getAccount(b, mine.id)).toBeNull();
      });

      it('creates, gets, lists, updates and deletes within the tenant only', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const acct = accountRecord(a, { name: 'b-second' });
        const first = accountRecord(a, { name: 'a-first' });
        await store.createAccount(acct);
        await store.createAccount(first);
        const foreign = accountRecord(b, { name: 'a-first' }); // same name, other tenant: allowed
        await store.createAccount(foreign);

        expect(await store.getAccount(a, acct.id)).toEqual(acct);
        expect(await store.getAccount(b, acct.id)).toBeNull();
        expect((await store.listAccounts(a)).map((x) => x.id).sort()).toEqual([acct.id, first.id].sort());
        expect(await store.listAccounts(b)).toEqual([foreign]);

        expect(await store.updateAccount(b, acct.id, { description: 'hijack' }, at(9))).toBeNull();
        const updated = await store.updateAccount(
          a,
          acct.id,
          { description: '', delegateSelectors: ['west'], endpoints: {}, auth: { type: 'delegate' } },
          at(10),
        );
        expect(updated).toEqual({
          ...acct,
          description: '',
          delegateSelectors: ['west'],
          endpoints: {},
          auth: { type: 'delegate' },
          updatedAt: at(10),
        });
        expect(await store.getAccount(a, acct.id)).toEqual(updated);
        expect(await store.updateAccount(a, uid('missing'), { description: 'x' }, at(10))).toBeNull();

        expect(await store.deleteAccount(b, acct.id)).toBe(false);
        expect(await store.getAccount(a, acct.id)).not.toBeNull();
        expect(await store.deleteAccount(a, acct.id)).toBe(true);
        expect(await store.deleteAccount(a, acct.id)).toBe(false);
        expect(await store.getAccount(a, acct.id)).toBeNull();
      });

      it('keeps account names unique per tenant, on create and on rename', async () => {
        const a = await newTenant();
        const one = accountRecord(a, { name: 'prod' });
        const two = accountRecord(a, { name: 'dev' });
        await store.createAccount(one);
        await store.createAccount(two);
        const dup = store.createAccount(accountRecord(a, { name: 'prod' }));
        await expect(dup).rejects.toBeInstanceOf(StoreConflictError);
        await expect(dup).rejects.toMatchObject({ code: 'CONFLICT' });
        await expect(store.updateAccount(a, two.id, { name: 'prod' }, at(1))).rejects.toBeInstanceOf(StoreConflictError);
        expect((await store.getAccount(a, two.id))?.name).toBe('dev');
        expect((await store.updateAccount(a, two.id, { name: 'staging' }, at(1)))?.name).toBe('staging');
      });

      it('records a validation only for the latest validation task', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const acct = accountRecord(a);
        await store.createAccount(acct);

        expect(await store.startValidation(b, acct.id, 'task-x', at(1))).toBeNull();
        expect(await store.startValidation(a, acct.id, 'task-1', at(1))).toEqual({
          ...acct,
          status: 'validating',
          lastTaskId: 'task-1',
          updatedAt: at(1),
        });
        await store.startValidation(a, acct.id, 'task-2', at(2));

        const stale = await store.recordValidation(a, acct.id, 'task-1', {
          status: 'invalid',
          checkedAt: at(3),
          awsAccountId: null,
          arn: null,
          error: ERR,
        });
        expect(stale).toBeNull();
        expect(await store.getAccount(a, acct.id)).toMatchObject({ status: 'validating', lastTaskId: 'task-2', lastError: null });

        const outcome = {
          status: 'valid',
          checkedAt: at(4),
          awsAccountId: '123456789012',
          arn: 'arn:aws:iam::123456789012:user/probe',
          error: null,
        } as const;
        expect(await store.recordValidation(b, acct.id, 'task-2', outcome)).toBeNull();
        const recorded = await store.recordValidation(a, acct.id, 'task-2', outcome);
        expect(recorded).toMatchObject({
          status: 'valid',
          lastTaskId: 'task-2',
          lastCheckedAt: at(4),
          awsAccountId: '123456789012',
          arn: 'arn:aws:iam::123456789012:user/probe',
          lastError: null,
        });
        expect(await store.getAccount(a, acct.id)).toEqual(recorded);

        // A later failure overwrites the identity with what that check found.
        await store.startValidation(a, acct.id, 'task-3', at(5));
        expect(
          await store.recordValidation(a, acct.id, 'task-3', { status: 'invalid', checkedAt: at(6), awsAccountId: null, arn: null, error: ERR }),
        ).toMatchObject({ status: 'invalid', lastError: ERR, awsAccountId: null, arn: null, lastCheckedAt: at(6) });
      });

      it('stores a gateway (null unpins) and chosen policy ARNs, independently of each other', async () => {
        const a = await newTenant();
        const acct = accountRecord(a, { gateway: 'vpc-east', policyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] });
        await store.createAccount(acct);
        expect(await store.getAccount(a, acct.id)).toEqual(acct);

        const policyArns = ['arn:aws:iam::123456789012:policy/team/Deploy', 'arn:aws:iam::aws:policy/ReadOnlyAccess'];
        const chosen = await store.updateAccount(a, acct.id, { policyArns }, at(1));
        expect(chosen).toEqual({ ...acct, policyArns, updatedAt: at(1) });
        // A patch without the gateway leaves it; an explicit null clears it.
        expect((await store.updateAccount(a, acct.id, { description: 'x' }, at(2)))?.gateway).toBe('vpc-east');
        const unpinned = await store.updateAccount(a, acct.id, { gateway: null }, at(3));
        expect(unpinned).toMatchObject({ gateway: null, policyArns, description: 'x' });
        expect((await store.updateAccount(a, acct.id, { gateway: 'vpc-west' }, at(4)))?.gateway).toBe('vpc-west');
        expect((await store.updateAccount(a, acct.id, { policyArns: [] }, at(5)))?.policyArns).toEqual([]);
      });
    });

    describe('delegate names', () => {
      it('names the tenant’s delegates among the ids asked for, and only those', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const d1 = delegateRecord(a, { name: 'east' });
        const d2 = delegateRecord(a, { name: 'west' });
        const foreign = delegateRecord(b, { name: 'other' });
        for (const d of [d1, d2, foreign]) await store.upsertDelegate(d);
        const names = await store.delegateNames(a, [d1.id, d2.id, d1.id, foreign.id, uid('missing')]);
        expect([...names.entries()].sort()).toEqual([[d1.id, 'east'], [d2.id, 'west']].sort());
        expect(await store.delegateNames(a, [])).toEqual(new Map());
      });
    });

    describe('list pages', () => {
      /** Walks a list page by page, each page starting after the previous page's last row. */
      async function walk<R extends { id: string }, K extends string | Date>(
        list: (page: { limit: number; after?: { key: K; id: string } }) => Promise<R[]>,
        keyOf: (r: R) => K,
        limit: number,
      ): Promise<R[][]> {
        const pages: R[][] = [];
        let after: { key: K; id: string } | undefined;
        for (;;) {
          const rows = await list({ limit, ...(after ? { after } : {}) });
          if (rows.length === 0) return pages;
          expect(rows.length).toBeLessThanOrEqual(limit);
          pages.push(rows);
          const last = rows[rows.length - 1]!;
          after = { key: keyOf(last), id: last.id };
        }
      }

      it('pages through accounts in name order, ties broken by id, within the tenant', async () => {
        const a = await newTenant();
        const b = await newTenant();
        // Names repeat across tenants only (they are unique per tenant); the order is by name.
        const made = [accountRecord(a, { name: 'c' }), accountRecord(a, { name: 'a' }), accountRecord(a, { name: 'b' }), accountRecord(a, { name: 'd' }), accountRecord(a, { name: 'e' })];
        for (const r of made) await store.createAccount(r);
        await store.createAccount(accountRecord(b, { name: 'a0' }));
        const whole = await store.listAccounts(a);
        expect(whole.map((r) => r.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
        const pages = await walk((page) => store.listAccounts(a, page), (r) => r.name, 2);
        expect(pages.map((p) => p.map((r) => r.name))).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
        expect(pages.flat()).toEqual(whole);
      });

      it('pages through delegates in name order, replicas of one group by id', async () => {
        const a = await newTenant();
        const group = [delegateRecord(a, { name: 'gw-same' }), delegateRecord(a, { name: 'gw-same' }), delegateRecord(a, { name: 'gw-same' })];
        const other = delegateRecord(a, { name: 'gw-first' });
        for (const d of [...group, other]) await store.upsertDelegate(d);
        const whole = await store.listDelegates(a, at(0));
        expect(whole.map((d) => d.id)).toEqual([other.id, ...group.map((d) => d.id).sort()]);
        const pages = await walk((page) => store.listDelegates(a, at(0), page), (d) => d.name, 2);
        expect(pages.map((p) => p.length)).toEqual([2, 2]);
        expect(pages.flat()).toEqual(whole);
      });

      it('pages through delegate tokens oldest first, same instant by id', async () => {
        const a = await newTenant();
        const mk = (createdAt: Date): DelegateToken => {
          const id = uid('token');
          return { id, tenantId: a, name: `tok-${id}`, hash: `th-${id}`, createdAt, revokedAt: null };
        };
        const tokens = [mk(at(3)), mk(at(1)), mk(at(1)), mk(at(2)), mk(at(1))];
        for (const t of tokens) await store.createDelegateToken(t);
        const whole = await store.listDelegateTokens(a);
        expect(whole.map((t) => t.createdAt.getTime())).toEqual([at(1), at(1), at(1), at(2), at(3)].map((d) => d.getTime()));
        const pages = await walk((page) => store.listDelegateTokens(a, page), (t) => t.createdAt, 2);
        expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
        expect(pages.flat()).toEqual(whole);
        expect(await store.listDelegateTokens(a, { limit: 0 })).toEqual([]);
      });
    });

    describe('delegate identities', () => {
      const identity = (tenantId: string, over: Partial<DelegateIdentityRecord> = {}): DelegateIdentityRecord => ({
        tenantId,
        group: 'vpc-east',
        partition: 'aws',
        arn: 'arn:aws:iam::123456789012:user/delegate',
        awsAccountId: '123456789012',
        taskId: uid('task'),
        reportedAt: at(10),
        ...over,
      });

      it('keeps one identity per group and partition, the newest report winning, per tenant', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const first = identity(a);
        await store.recordDelegateIdentity(first);
        const gov = identity(a, { partition: 'aws-us-gov', arn: 'arn:aws-us-gov:iam::123456789012:user/delegate' });
        await store.recordDelegateIdentity(gov);
        const west = identity(a, { group: 'vpc-west', arn: 'arn:aws:sts::123456789012:assumed-role/Node/i-1' });
        await store.recordDelegateIdentity(west);
        expect(await store.listDelegateIdentities(a)).toEqual([first, gov, west]);
        expect(await store.listDelegateIdentities(b)).toEqual([]);

        const newer = identity(a, { arn: 'arn:aws:iam::123456789012:user/rotated', reportedAt: at(20) });
        await store.recordDelegateIdentity(newer);
        // A late report from an older validation does not replace the newer one.
        await store.recordDelegateIdentity(identity(a, { arn: 'arn:aws:iam::123456789012:user/stale', reportedAt: at(15) }));
        expect(await store.listDelegateIdentities(a)).toEqual([newer, gov, west]);
      });
    });

    describe('delegate group keys', () => {
      const key = (n: number) => ({ keyId: `${n}`.padStart(16, '0'), algorithm: 'HPKE-X25519-HKDF-SHA256-AES-256-GCM', publicKey: `pk-${n}` });

      it('records announced keys per tenant and group, the latest current key first, times moving only forward', async () => {
        const a = await newTenant();
        const b = await newTenant();
        await store.recordGroupKeys(a, 'vpc-east', [key(1)], at(10));
        // Rotation: a new key is current, the old one still announced.
        await store.recordGroupKeys(a, 'vpc-east', [key(2), key(1)], at(20));
        await store.recordGroupKeys(a, 'vpc-west', [key(3)], at(20));
        // A late Hello of a replica that still runs the old key alone must not make it current again.
        await store.recordGroupKeys(a, 'vpc-east', [key(1)], at(15));

        const east = await store.listGroupKeys(a, 'vpc-east');
        expect(east.map((k) => k.keyId)).toEqual([key(2).keyId, key(1).keyId]);
        expect(east[0]).toEqual({ tenantId: a, group: 'vpc-east', ...key(2), firstSeenAt: at(20), lastSeenAt: at(20), lastCurrentAt: at(20), trusted: true });
        expect(east[1]).toEqual({ tenantId: a, group: 'vpc-east', ...key(1), firstSeenAt: at(10), lastSeenAt: at(20), lastCurrentAt: at(15), trusted: true });
        expect((await store.listGroupKeys(a, 'vpc-west')).map((k) => k.keyId)).toEqual([key(3).keyId]);
        expect(await store.listGroupKeys(b, 'vpc-east')).toEqual([]);

        await store.recordGroupKeys(a, 'vpc-east', [key(1), key(2)], at(30));
        expect((await store.listGroupKeys(a, 'vpc-east')).map((k) => k.keyId)).toEqual([key(1).keyId, key(2).keyId]);
      });

      it('trusts a group’s first keys and keys announced with a trusted one; a lone new key waits for an admin', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const trust = (ks: Array<{ keyId: string; trusted: boolean }>) => ks.map((k) => `${k.keyId}:${k.trusted}`);
        // First keys of the group: trusted on first use.
        expect(trust(await store.recordGroupKeys(a, 'gw', [key(11), key(12)], at(10)))).toEqual([`${key(11).keyId}:true`, `${key(12).keyId}:true`]);
        // A key announced alone, without any trusted key of the group (a stolen token with its own key).
        expect(trust(await store.recordGroupKeys(a, 'gw', [key(13)], at(20)))).toEqual([`${key(13).keyId}:false`]);
        // Announcing it again, even first, does not make it trusted; the same key id elsewhere is another record.
        expect(trust(await store.recordGroupKeys(a, 'gw', [key(13)], at(25)))).toEqual([`${key(13).keyId}:false`]);
        expect(trust(await store.recordGroupKeys(b, 'gw', [key(13)], at(25)))).toEqual([`${key(13).keyId}:true`]);
        // Rotation: a new key travelling with a trusted one is trusted.
        expect(trust(await store.recordGroupKeys(a, 'gw', [key(14), key(12)], at(30)))).toEqual([`${key(14).keyId}:true`, `${key(12).keyId}:true`]);
        // Trust is never taken away by a later Hello, and an admin can vouch for the waiting key.
        expect(trust(await store.recordGroupKeys(a, 'gw', [key(11)], at(40)))).toEqual([`${key(11).keyId}:true`]);
        expect(await store.setGroupKeyTrust(a, 'gw', key(13).keyId, true)).toMatchObject({ keyId: key(13).keyId, trusted: true, lastCurrentAt: at(25) });
        expect(await store.setGroupKeyTrust(a, 'gw', key(99).keyId, true)).toBeNull();
        expect(await store.setGroupKeyTrust(b, 'other', key(13).keyId, true)).toBeNull();
        expect((await store.listGroupKeys(a, 'gw')).every((k) => k.trusted)).toBe(true);
        expect(await store.recordGroupKeys(a, 'gw', [], at(50))).toEqual([]);
      });

      it('after an admin withdraws trust from every key, the group trusts no new key by itself', async () => {
        const a = await newTenant();
        const trusted = async () => (await store.listGroupKeys(a, 'hijacked')).filter((k) => k.trusted).map((k) => k.keyId);
        // An impostor registered the group first: its key was trusted on first use.
        await store.recordGroupKeys(a, 'hijacked', [key(21)], at(10));
        expect(await store.setGroupKeyTrust(a, 'hijacked', key(21).keyId, false)).toMatchObject({ trusted: false });
        expect(await trusted()).toEqual([]);
        // The real group's key arrives: not trusted on first use any more, and the impostor's key
        // announced again does not win its trust back.
        expect((await store.recordGroupKeys(a, 'hijacked', [key(22)], at(20)))[0]?.trusted).toBe(false);
        expect((await store.recordGroupKeys(a, 'hijacked', [key(21)], at(30)))[0]?.trusted).toBe(false);
        await store.setGroupKeyTrust(a, 'hijacked', key(22).keyId, true);
        expect(await trusted()).toEqual([key(22).keyId]);
        // From there, rotation works as usual.
        expect((await store.recordGroupKeys(a, 'hijacked', [key(23), key(22)], at(40)))[0]?.trusted).toBe(true);
      });
    });

    describe('audit trail', () => {
      const user = { type: 'user', id: 'usr-1', email: 'ada@example.com' } as const;
      const key = { type: 'apiKey', id: 'key-1', name: 'ci pipeline' } as const;
      let n = 0;
      function entry(tenantId: string, over: Partial<AuditEntry> = {}): AuditEntry {
        // Ids sort in time order like ids.ts's; the run prefix keeps this run's apart.
        n += 1;
        return {
          id: `aud_${run}_${String(n).padStart(6, '0')}`,
          tenantId,
          at: at(n),
          actor: user,
          role: 'admin',
          clientAddress: '127.0.0.1',
          userAgent: 'conformance',
          action: 'account.create',
          target: { type: 'account', id: `acc-${n}`, name: `prod ${n}` },
          outcome: 'success',
          diff: { name: { changed: true, to: `prod ${n}` }, 'auth.secretAccessKey': { changed: true, kind: 'sealed' } },
          details: {},
          ...over,
        };
      }

      it('keeps every field and lists a tenant\'s entries newest first, paged by cursor', async () => {
        const a = await newTenant();
        const b = await newTenant();
        const written = [entry(a), entry(a, { clientAddress: null, userAgent: null, role: null, actor: { type: 'anonymous' } }), entry(a), entry(b)];
        for (const e of written) await store.audit.append(e);
        const mine = [written[2]!, written[1]!, written[0]!];
        expect(await store.audit.list({ tenantId: a, limit: 10 })).toEqual(mine);
        const first = await store.audit.list({ tenantId: a, limit: 2 });
        expect(first).toEqual(mine.slice(0, 2));
        expect(await store.audit.list({ tenantId: a, limit: 2, beforeId: first[1]!.id })).toEqual(mine.slice(2));
        expect(await store.audit.list({ tenantId: b, limit: 10 })).toEqual([written[3]]);
      });

      it('filters by actor (any of its identifiers, whole words only), action, target and time', async () => {
        const a = await newTenant();
        const byUser = entry(a, { action: 'account.validate', details: { delegate: { id: 'dlg-1', name: 'edge' } } });
        const byKey = entry(a, { actor: key, role: 'editor', action: 'token.revoke', target: { type: 'delegate_token', id: 'tok-9', name: 'edge token' } });
        const byOperator = entry(a, { actor: { type: 'operator' }, role: 'operator', action: 'tenant.suspend', target: { type: 'tenant', id: a, name: null } });
        for (const e of [byUser, byKey, byOperator]) await store.audit.append(e);
        const list = (q: Partial<AuditQuery>) => store.audit.list({ tenantId: a, limit: 10, ...q });
        expect(await list({ actor: 'ada@example.com' })).toEqual([byUser]);
        expect(await list({ actor: 'usr-1' })).toEqual([byUser]);
        expect(await list({ actor: 'ci pipeline' })).toEqual([byKey]);
        expect(await list({ actor: 'key-1' })).toEqual([byKey]);
        expect(await list({ actor: 'operator' })).toEqual([byOperator]);
        expect(await list({ actor: 'ada' })).toEqual([]);
        expect(await list({ action: 'token.revoke' })).toEqual([byKey]);
        expect(await list({ target: 'tok-9' })).toEqual([byKey]);
        expect(await list({ target: 'edge token' })).toEqual([byKey]);
        expect(await list({ since: byKey.at })).toEqual([byOperator, byKey]);
        expect(await list({ until: byKey.at })).toEqual([byUser]);
        expect(await list({ since: byUser.at, until: byOperator.at, actor: 'key-1' })).toEqual([byKey]);
      });

      it('retention deletes old entries in bounded batches and keeps the rest', async () => {
        const a = await newTenant();
        const old = [entry(a, { at: new Date(Date.UTC(1991, 0, 1)) }), entry(a, { at: new Date(Date.UTC(1991, 0, 2)) }), entry(a, { at: new Date(Date.UTC(1991, 0, 3)) })];
        const recent = entry(a);
        for (const e of [...old, recent]) await store.audit.append(e);
        const cutoff = new Date(Date.UTC(1992, 0, 1));
        expect(await store.audit.deleteOlderThan(cutoff, 2)).toBe(2);
        let deleted = 2;
        for (let more = -1; more !== 0; ) deleted += more = await store.audit.deleteOlderThan(cutoff, 2);
        expect(deleted).toBeGreaterThanOrEqual(3);
        expect(await store.audit.list({ tenantId: a, limit: 10 })).toEqual([recent]);
      });

      it('a task keeps who asked for it', async () => {
        const a = await newTenant();
        const requestedBy = { who: key, tenantId: a, role: 'editor', clientAddress: '10.0.0.7', userAgent: 'attache-cli/1' } as const;
        const task = taskRecord(a, { requestedBy });
        await store.insertTask(task);
        expect((await store.getTask(a, task.id))?.requestedBy).toEqual(requestedBy);
      });
    });
  });
}
