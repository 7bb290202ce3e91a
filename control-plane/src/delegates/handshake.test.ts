import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { DelegateFrameSchema, GoodbyeCode, HelloSchema, type DelegateFrame } from '@attache/proto';
import { describe, expect, it } from 'vitest';
import type { Store } from '../store/store.js';
import { LeaseKeeper } from '../tasks/lease-keeper.js';
import { Requeuer } from '../tasks/requeue.js';
import { Handshake, type HandshakeFrames } from './handshake.js';
import { SessionRegistry } from './session-registry.js';
import { FakeConnection, realLifecycle, realStore, seedTenant, silentLog } from './test-support.js';
import { DelegateTokenService } from './token-service.js';

const timing = { heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 5_000, replicaId: 'replica-test', maxDelegatesPerTenant: 2 };

/** The frames a test feeds, in order; `close()` ends them as a dropped connection would. */
class Frames implements HandshakeFrames {
  private readonly queue: DelegateFrame[] = [];
  private waiting: (() => void) | null = null;
  closed = false;

  push(frame: MessageInitShape<typeof DelegateFrameSchema>['frame']): void {
    this.queue.push(create(DelegateFrameSchema, { frame }));
    this.waiting?.();
  }

  close(): void {
    this.closed = true;
    this.waiting?.();
  }

  async next(): Promise<DelegateFrame | null> {
    while (!this.closed && this.queue.length === 0) await new Promise<void>((r) => (this.waiting = r));
    return this.closed ? null : (this.queue.shift() ?? null);
  }
}

const hello = (over: MessageInitShape<typeof HelloSchema> = {}) =>
  ({ case: 'hello', value: create(HelloSchema, { name: 'edge', instanceId: 'i-1', tags: ['prod'], taskTypes: ['echo'], maxConcurrency: 2, version: '1.0.0', ...over }) }) as const;

async function setup(options: { store?: Store; delegateBatchItems?: number } = {}) {
  const store = options.store ?? (await realStore());
  const tenant = await seedTenant(store, 'acme');
  const tokens = new DelegateTokenService(store, realLifecycle(store).bus);
  const registry = new SessionRegistry();
  const { lifecycle, metrics } = realLifecycle(store);
  const requeue = new Requeuer(store, lifecycle, metrics, silentLog);
  const leases = new LeaseKeeper({ store, sessions: registry, requeue, slots: { pump: () => {} }, timing, log: silentLog });
  const handshake = new Handshake({ tokens, store, connections: registry, leases, timing: { ...timing, delegateBatchItems: options.delegateBatchItems }, log: silentLog });
  const { record, token } = await tokens.create(tenant.id, 'edge');
  return { store, tenant, tokens, registry, handshake, token, tokenId: record.id };
}

describe('Handshake', () => {
  it('negotiates batches: Welcome announces what this replica takes, and Assigns batch only as far as the Hello allows', async () => {
    const cases = [
      { replica: 64, hello: 16, welcome: 64, perFrame: 16 },
      { replica: 8, hello: 16, welcome: 8, perFrame: 8 },
      // A delegate that predates batches sends no max_batch_items: single Assign frames.
      { replica: 64, hello: undefined, welcome: 64, perFrame: 0 },
      // Batches off on this replica: Welcome says 0, as a control plane that predates them.
      { replica: 0, hello: 16, welcome: 0, perFrame: 0 },
    ];
    for (const c of cases) {
      const { handshake, token } = await setup({ delegateBatchItems: c.replica });
      const connection = new FakeConnection(token);
      const frames = new Frames();
      frames.push(hello(c.hello === undefined ? {} : { maxBatchItems: c.hello }));
      const welcomed = await handshake.run(connection, frames);
      const welcome = connection.sent[0]?.frame;
      expect(welcome?.case === 'welcome' ? welcome.value.maxBatchItems : undefined).toBe(c.welcome);
      expect(welcomed?.session.assignsPerFrame).toBe(c.perFrame);
    }
  });

  it('welcomes a delegate with a live token and a valid Hello: registered, connected, its presence recorded', async () => {
    const { store, tenant, registry, handshake, token } = await setup();
    const connection = new FakeConnection(token);
    const frames = new Frames();
    frames.push(hello());
    const welcomed = await handshake.run(connection, frames);
    expect(welcomed?.session.state).toBe('connected');
    expect(welcomed?.session.identity.tags).toEqual(['edge', 'prod']);
    expect(connection.cases()).toEqual(['welcome']);
    expect(registry.get(welcomed!.session.id)).toBe(welcomed!.session);
    const [row] = await store.listDelegates(tenant.id, new Date(0));
    expect(row).toMatchObject({ id: welcomed!.session.id, status: 'connected', sessionId: welcomed!.session.sessionId, replicaId: 'replica-test' });
  });

  it('rejects a missing or unknown token at the carrier, before reading any frame', async () => {
    const { handshake } = await setup();
    const missing = new FakeConnection(null);
    expect(await handshake.run(missing, new Frames())).toBeNull();
    expect(missing.rejectedWith).toEqual({ code: 'UNAUTHENTICATED', message: 'Missing delegate token (authorization: Bearer ...).' });
    const unknown = new FakeConnection('adt_unknown');
    expect(await handshake.run(unknown, new Frames())).toBeNull();
    expect(unknown.rejectedWith).toEqual({ code: 'UNAUTHENTICATED', message: 'The delegate token is unknown or revoked.' });
  });

  it('closes with PROTOCOL_ERROR when the first frame is not Hello, or the Hello is invalid', async () => {
    const { handshake, token } = await setup();
    const notHello = new FakeConnection(token);
    const frames = new Frames();
    frames.push({ case: 'heartbeat', value: { inFlight: 0 } });
    expect(await handshake.run(notHello, frames)).toBeNull();
    expect(notHello.closedWith).toEqual({ code: GoodbyeCode.PROTOCOL_ERROR, message: 'The first frame must be Hello, got heartbeat.' });
    const invalid = new FakeConnection(token);
    const invalidFrames = new Frames();
    invalidFrames.push(hello({ name: 'Not_A_Group' }));
    expect(await handshake.run(invalid, invalidFrames)).toBeNull();
    expect(invalid.closedWith?.code).toBe(GoodbyeCode.PROTOCOL_ERROR);
    expect(invalid.closedWith?.message).toMatch(/^Invalid Hello: name "Not_A_Group" must be/);
  });

  it("refuses a delegate past the tenant's limit with RESOURCE_EXHAUSTED, naming the setting", async () => {
    const { handshake, token } = await setup();
    for (const instanceId of ['i-1', 'i-2']) {
      const frames = new Frames();
      frames.push(hello({ instanceId }));
      expect(await handshake.run(new FakeConnection(token), frames)).not.toBeNull();
    }
    const third = new FakeConnection(token);
    const frames = new Frames();
    frames.push(hello({ instanceId: 'i-3' }));
    expect(await handshake.run(third, frames)).toBeNull();
    expect(third.closedWith?.code).toBe(GoodbyeCode.RESOURCE_EXHAUSTED);
    expect(third.closedWith?.message).toMatch(/ATTACHE_MAX_DELEGATES_PER_TENANT=2/);
  });

  it('tracks the connection from the token check on, so a revocation before Hello closes it; a revocation the signal missed is refused at admission', async () => {
    const { handshake, registry, tokens, tenant, token, tokenId } = await setup();
    const early = new FakeConnection(token);
    const earlyFrames = new Frames();
    early.onClose(() => earlyFrames.close());
    const earlyRun = handshake.run(early, earlyFrames);
    // Let the token check finish, then revoke through the registry as the bus signal would.
    await new Promise((r) => setTimeout(r, 50));
    expect(registry.closeToken(tokenId, { code: GoodbyeCode.TOKEN_REVOKED, message: 'revoked' })).toBe(1);
    expect(early.closedWith?.code).toBe(GoodbyeCode.TOKEN_REVOKED);
    expect(await earlyRun).toBeNull();

    // Revoked in the store only (no signal): the Hello passes, admission reads the token again.
    const late = new FakeConnection(token);
    const frames = new Frames();
    const lateRun = handshake.run(late, frames);
    await new Promise((r) => setTimeout(r, 50));
    await tokens.revoke(tenant.id, tokenId);
    frames.push(hello());
    expect(await lateRun).toBeNull();
    expect(late.closedWith?.code).toBe(GoodbyeCode.TOKEN_REVOKED);
    expect(late.cases()).not.toContain('welcome');
  });

  it('undoes registration when the connection closes midway: its presence row ends and no session stays registered', async () => {
    const real = await realStore();
    const frames = new Frames();
    // The connection drops right after the presence row is written, before re-adoption and Welcome.
    const store = new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'upsertDelegate') return async (...args: Parameters<Store['upsertDelegate']>) => { await target.upsertDelegate(...args); frames.close(); };
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { tenant, registry, handshake, token } = await setup({ store });
    const connection = new FakeConnection(token);
    frames.push(hello());
    expect(await handshake.run(connection, frames)).toBeNull();
    expect(registry.local(tenant.id)).toEqual([]);
    expect(connection.cases()).not.toContain('welcome');
    const rows = await real.listDelegates(tenant.id, new Date(0));
    expect(rows).toHaveLength(1);
    expect(rows[0]?.status).toBe('disconnected');
  });
});
