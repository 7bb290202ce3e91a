import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DelegateRelease } from './delegates/delegate-release.js';
import type { AssignsSent } from './delegates/session.js';
import { versionCensus } from './delegates/version-census.js';
import type { Store, TaskRecord } from './store/store.js';

/**
 * Prometheus metrics. Labels are bounded on purpose: task type, state, carrier, status and a capped
 * set of delegate versions only — never tenant, delegate or task ids, which would grow without limit on a multi-tenant service.
 * Per-tenant queue depth is served by GET /v1/queue instead.
 */
const MAX_CODES = 64;
/** Frames that carry tasks, as the frame counters name them (the .proto's field names). */
export type TaskFrame = 'assign' | 'assign_batch' | 'accepted' | 'result' | 'batch';

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export class Metrics {
  readonly registry = new Registry();
  private readonly seenCodes = new Set<string>();
  private readonly created: Counter<'type'>;
  private readonly ended: Counter<'type' | 'state' | 'code'>;
  private readonly requeued: Counter<'type'>;
  private readonly dispatchLatency: Histogram<'type'>;
  private readonly connections: Counter<'transport' | 'event'>;
  private readonly taskFrames: Counter<'direction' | 'frame'>;
  private readonly taskFrameItems: Counter<'direction' | 'frame'>;

  constructor(store: Store, release: DelegateRelease) {
    collectDefaultMetrics({ register: this.registry, prefix: 'attache_' });
    // prom-client names three gauges *_total, which Prometheus reserves for counters (promtool check
    // metrics flags them). Their by-type siblings stay: sum(attache_nodejs_active_handles) is the total.
    for (const name of MISNAMED_DEFAULT_GAUGES) this.registry.removeSingleMetric(`attache_${name}`);
    this.created = new Counter({ name: 'attache_tasks_created_total', help: 'Tasks created', labelNames: ['type'], registers: [this.registry] });
    this.ended = new Counter({
      name: 'attache_tasks_ended_total',
      help: 'Tasks that reached a terminal state, by error code (empty on success)',
      labelNames: ['type', 'state', 'code'],
      registers: [this.registry],
    });
    this.requeued = new Counter({ name: 'attache_tasks_requeued_total', help: 'Attempts lost and requeued', labelNames: ['type'], registers: [this.registry] });
    this.dispatchLatency = new Histogram({
      name: 'attache_dispatch_latency_seconds',
      help: 'Time from entering the queue to assignment to a delegate',
      labelNames: ['type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [this.registry],
    });
    this.connections = new Counter({
      name: 'attache_delegate_connection_events_total',
      help: 'Delegate connections registered, closed, and paced (refused with a retry hint while the replica ran its limit of handshakes)',
      labelNames: ['transport', 'event'],
      registers: [this.registry],
    });
    this.taskFrames = new Counter({
      name: 'attache_delegate_task_frames_total',
      help: 'Delegate frames that carry tasks: sent (assign, assign_batch) and received (accepted, result, batch)',
      labelNames: ['direction', 'frame'],
      registers: [this.registry],
    });
    this.taskFrameItems = new Counter({
      name: 'attache_delegate_task_frame_items_total',
      help: 'Assign, Accepted and Result items those frames carried (a single frame carries one)',
      labelNames: ['direction', 'frame'],
      registers: [this.registry],
    });
    new Gauge({
      name: 'attache_tasks',
      help: 'Tasks by type and state (all tenants)',
      labelNames: ['type', 'state'],
      registers: [this.registry],
      async collect() {
        const stats = await store.globalTaskStats();
        this.reset();
        for (const s of stats.byTypeAndState) this.set({ type: s.type, state: s.state }, s.count);
      },
    });
    new Gauge({
      name: 'attache_queue_depth',
      help: 'Queued tasks (all tenants)',
      registers: [this.registry],
      async collect() {
        this.set((await store.globalTaskStats()).queued);
      },
    });
    new Gauge({
      name: 'attache_queue_oldest_age_seconds',
      help: 'Age of the oldest queued task, 0 when the queue is empty',
      registers: [this.registry],
      async collect() {
        const oldest = (await store.globalTaskStats()).oldestQueuedAt;
        this.set(oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0);
      },
    });
    new Gauge({
      name: 'attache_delegates',
      help: 'Delegates by status and carrier (all tenants, all replicas)',
      labelNames: ['status', 'transport'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await store.countDelegates()) this.set({ status: row.status, transport: row.transport }, row.count);
      },
    });
    new Gauge({
      name: 'attache_delegates_connected_by_version',
      help: 'Delegates not disconnected, by reported version and whether it is older than the current release (all tenants, all replicas)',
      labelNames: ['version', 'outdated'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of versionCensus(await store.countConnectedDelegatesByVersion(), release)) {
          this.set({ version: row.version, outdated: String(row.outdated) }, row.count);
        }
      },
    });
  }

  taskCreated(task: TaskRecord): void {
    this.created.inc({ type: task.type });
  }

  taskAssigned(task: TaskRecord): void {
    if (task.assignedAt) this.dispatchLatency.observe({ type: task.type }, Math.max(0, task.assignedAt.getTime() - task.queuedAt.getTime()) / 1000);
  }

  assignFramesSent(out: AssignsSent): void {
    if (out.singles > 0) this.frameCounted('sent', 'assign', out.singles, out.singles);
    if (out.batches.length > 0) this.frameCounted('sent', 'assign_batch', out.batches.length, out.batches.reduce((a, b) => a + b, 0));
  }

  taskFrameReceived(frame: TaskFrame, items: number): void {
    this.frameCounted('received', frame, 1, items);
  }

  private frameCounted(direction: 'sent' | 'received', frame: TaskFrame, frames: number, items: number): void {
    this.taskFrames.inc({ direction, frame }, frames);
    this.taskFrameItems.inc({ direction, frame }, items);
  }

  taskRequeued(task: TaskRecord): void {
    this.requeued.inc({ type: task.type });
  }

  taskEnded(task: TaskRecord): void {
    // Delegates report codes; only well-formed ones become label values, and at most MAX_CODES of them.
    const raw = task.error?.code ?? '';
    let code = /^[A-Z][A-Z0-9_]{0,47}$/.test(raw) || raw === '' ? raw : 'OTHER';
    if (code && !this.seenCodes.has(code)) {
      if (this.seenCodes.size >= MAX_CODES) code = 'OTHER';
      else this.seenCodes.add(code);
    }
    this.ended.inc({ type: task.type, state: task.state, code });
  }

  delegateConnected(transport: string): void {
    this.connections.inc({ transport, event: 'registered' });
  }

  delegateDisconnected(transport: string): void {
    this.connections.inc({ transport, event: 'closed' });
  }

  delegatePaced(transport: string): void {
    this.connections.inc({ transport, event: 'paced' });
  }
}
