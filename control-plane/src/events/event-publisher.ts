import type { Logger } from 'pino';
import type { Bus } from '../bus/bus.js';
import { taskView } from '../api/views.js';
import type { Store, TaskRecord } from '../store/store.js';
import type { TenantEvent } from './event-types.js';

/** Names stay cached for this many delegates; past it the cache starts over (names are one read away). */
const NAME_CACHE_SIZE = 10_000;

/**
 * Turns task transitions into tenant events on the bus. Transitions are published in the order
 * they were reported: one chain, where a step awaits the store only for a delegate name it has not
 * seen (a delegate's id is derived from its name, so a name never changes under an id). Publishing
 * never fails the transition that caused it; a lost event costs a client a refetch, not state.
 */
export class EventPublisher {
  private chain: Promise<void> = Promise.resolve();
  private readonly names = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  taskChanged(task: TaskRecord): void {
    const at = new Date().toISOString();
    this.enqueue(task.tenantId, async () => ({ type: 'task.state', at, task: taskView(task, await this.delegateName(task)) }));
  }

  /** After the validation's outcome is stored on the account (TaskLifecycle). */
  accountValidated(task: TaskRecord): void {
    if (!task.accountId) return;
    const accountId = task.accountId;
    const at = new Date().toISOString();
    const ok = task.state === 'succeeded';
    this.enqueue(task.tenantId, async () => {
      const account = await this.store.getAccount(task.tenantId, accountId);
      const awsAccountId = ok ? String(task.result?.['accountId'] ?? '') : '';
      return {
        type: 'account.validated',
        at,
        account: {
          id: accountId,
          name: account?.name ?? null,
          status: ok ? 'valid' : 'invalid',
          ...(awsAccountId ? { awsAccountId } : {}),
          taskId: task.id,
          ...(!ok && task.error ? { error: { code: task.error.code, message: task.error.message } } : {}),
        },
      };
    });
  }

  /** Resolves once everything enqueued so far has been handed to the bus (tests, shutdown). */
  flushed(): Promise<void> {
    return this.chain;
  }

  private enqueue(tenantId: string, build: () => Promise<TenantEvent>): void {
    this.chain = this.chain.then(async () => {
      try {
        await this.bus.publish('tenant.event', { tenantId, event: await build() });
      } catch (err) {
        this.log.warn({ err, tenantId }, 'could not publish a tenant event; streams that miss it resync on their next reset');
      }
    });
  }

  private async delegateName(task: TaskRecord): Promise<string | null> {
    const id = task.delegateId;
    if (!id) return null;
    const known = this.names.get(id);
    if (known !== undefined) return known;
    const found = (await this.store.delegateNames(task.tenantId, [id])).get(id) ?? null;
    if (found !== null) {
      if (this.names.size >= NAME_CACHE_SIZE) this.names.clear();
      this.names.set(id, found);
    }
    return found;
  }
}
