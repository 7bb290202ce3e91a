import pino from 'pino';
import type { ControlFrame, DelegateFrame } from '@attache/proto';
import { MemoryBus } from '../bus/memory-bus.js';
import type { DelegateConnection, RejectCode } from '../carriers/carrier.js';
import { DelegateRelease } from './delegate-release.js';
import { Metrics } from '../metrics.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Store, TaskRecord, Tenant } from '../store/store.js';
import { TaskLifecycle } from '../tasks/lifecycle.js';
import { DelegateSession, type SessionIdentity } from './session.js';

/**
 * Shared by the unit tests of delegates/ and tasks/: a real in-memory SQLite store, bus and
 * lifecycle, and the one fake, a delegate connection (the seam every carrier implements).
 */
export const silentLog = pino({ level: 'silent' });

export async function realStore(): Promise<Store> {
  const store = SqliteStore.open({ path: ':memory:' });
  await store.migrate();
  return store;
}

export async function seedTenant(store: Store, name: string): Promise<Tenant> {
  const id = `ten_${name}`;
  const at = new Date();
  await store.createTenant({ id, name, externalId: `ext-${name}`, createdAt: at }, { id: `key_${name}`, tenantId: id, hash: `hash-${name}`, createdAt: at });
  const tenant = await store.getTenant(id);
  if (!tenant) throw new Error('the seeded tenant is missing');
  return tenant;
}

export function realLifecycle(store: Store) {
  const bus = new MemoryBus();
  const metrics = new Metrics(store, new DelegateRelease('1.0.0'));
  return { bus, metrics, lifecycle: new TaskLifecycle(store, bus, metrics, silentLog) };
}

/** A delegate connection that records what the control plane sends and lets a test send frames. */
export class FakeConnection implements DelegateConnection {
  readonly transport = 'fake';
  readonly peer = 'test:0';
  readonly sent: ControlFrame[] = [];
  closedWith: { code: string; message: string } | undefined;
  rejectedWith: { code: string; message: string } | undefined;
  isClosed = false;
  private readonly frameHandlers: Array<(frame: DelegateFrame) => void> = [];
  private readonly closeHandlers: Array<(reason: string) => void> = [];

  constructor(
    readonly token: string | null,
    readonly tenantId?: string,
  ) {}

  send(frame: ControlFrame): boolean {
    if (this.isClosed) return false;
    this.sent.push(frame);
    return true;
  }

  close(reason?: { code: string; message: string }): void {
    if (this.isClosed) return;
    this.closedWith = reason;
    this.finish(reason ? `closed: ${reason.code}` : 'closed');
  }

  reject(code: RejectCode, message: string): void {
    this.rejectedWith = { code, message };
    this.finish(`rejected: ${code}`);
  }

  onFrame(handler: (frame: DelegateFrame) => void): void {
    this.frameHandlers.push(handler);
  }

  onClose(handler: (reason: string) => void): void {
    this.closeHandlers.push(handler);
  }

  /** The cases of the frames sent so far, in order. */
  cases(): string[] {
    return this.sent.map((f) => f.frame.case ?? 'empty');
  }

  private finish(reason: string): void {
    this.isClosed = true;
    for (const h of this.closeHandlers.splice(0)) h(reason);
  }
}

export function identity(over: Partial<SessionIdentity> = {}): SessionIdentity {
  return {
    id: 'dlg_a',
    tenantId: 'ten_acme',
    tokenId: 'tok_a',
    name: 'edge',
    instanceId: 'i-1',
    tags: ['edge'],
    taskTypes: ['echo'],
    maxConcurrency: 2,
    version: '1.0.0',
    ...over,
  };
}

export function session(over: Partial<SessionIdentity> = {}, connection = new FakeConnection('adt_x'), assignsPerFrame = 1): { session: DelegateSession; connection: FakeConnection } {
  return { session: new DelegateSession(identity(over), connection, assignsPerFrame), connection };
}

export function queuedTask(tenantId: string, id: string, over: Partial<TaskRecord> = {}): TaskRecord {
  const at = new Date();
  return {
    id,
    tenantId,
    type: 'echo',
    payload: { message: 'hi' },
    selectors: [],
    priority: 0,
    state: 'queued',
    attempt: 1,
    maxAttempts: 3,
    delegateId: null,
    queueTimeoutSeconds: 60,
    runTimeoutSeconds: 60,
    result: null,
    error: null,
    accountId: null,
    requestedBy: null,
    createdAt: at,
    queuedAt: at,
    assignedAt: null,
    startedAt: null,
    endedAt: null,
    leaseExpiresAt: null,
    ...over,
  };
}
