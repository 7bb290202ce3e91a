import type { Store, TaskRecord } from '../store/store.js';
import { AUDIT_SUCCESS, type AuditAction } from './actions.js';
import type { AuditLog } from './audit-log.js';

/** Task types whose end is an audited action on an account. */
const AUDITED_TASKS: Readonly<Record<string, AuditAction>> = {
  'aws.validate': 'account.validate',
  'aws.listPolicies': 'account.list_policies',
};

/**
 * A task's end (TaskLifecycle.onEnded) as an audit entry: which account, which delegate ran it, the
 * outcome code, recorded against whoever asked for it (kept on the task, so any replica that sees
 * the end can record it, and the entry is written once per task).
 */
export function taskAuditListener(store: Store, audit: AuditLog): (task: TaskRecord) => Promise<void> {
  return async (task) => {
    const action = AUDITED_TASKS[task.type];
    if (!action || !task.accountId) return;
    const account = await store.getAccount(task.tenantId, task.accountId);
    const delegateName = task.delegateId ? ((await store.delegateNames(task.tenantId, [task.delegateId])).get(task.delegateId) ?? null) : null;
    await audit.record({
      tenantId: task.tenantId,
      actor: task.requestedBy ?? { who: { type: 'anonymous' }, tenantId: task.tenantId, role: null, clientAddress: '', userAgent: null },
      action,
      target: { type: 'account', id: task.accountId, name: account?.name ?? null },
      outcome: task.state === 'succeeded' ? AUDIT_SUCCESS : (task.error?.code ?? task.state.toUpperCase()),
      details: {
        taskId: task.id,
        attempt: task.attempt,
        delegate: task.delegateId ? { id: task.delegateId, name: delegateName } : null,
      },
      at: task.endedAt ?? new Date(),
    });
  };
}
