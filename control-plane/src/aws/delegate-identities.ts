import type { Logger } from 'pino';
import type { Store, TaskRecord } from '../store/store.js';

/**
 * Learns which IAM identity each delegate group runs as. The only trustworthy report is a
 * successful aws.validate with the delegate's own credentials (auth type `delegate`): its result is
 * sts:GetCallerIdentity of exactly that chain, on a delegate of that group. Role setup then names
 * it as the principal a customer's role must trust.
 */
export class DelegateIdentities {
  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  /** A TaskLifecycle end listener; ignores every task that is not such a report. */
  async taskEnded(task: TaskRecord): Promise<void> {
    if (task.type !== 'aws.validate' || task.state !== 'succeeded' || !task.delegateId || !task.result) return;
    const auth = task.payload['auth'] as Record<string, unknown> | undefined;
    // With a role or keys in between, the caller ARN is not the delegate's own identity.
    if (!auth || !('delegate' in auth)) return;
    const arn = String(task.result['arn'] ?? '');
    const partition = String(task.result['partition'] ?? '');
    if (!arn || !partition) return;
    // The delegate was connected when it was assigned the task, so the listing from then on holds it.
    const since = task.assignedAt ?? task.createdAt;
    const delegate = (await this.store.listDelegates(task.tenantId, since)).find((d) => d.id === task.delegateId);
    if (!delegate) return;
    await this.store.recordDelegateIdentity({
      tenantId: task.tenantId,
      group: delegate.name,
      partition,
      arn,
      awsAccountId: String(task.result['accountId'] ?? ''),
      taskId: task.id,
      reportedAt: task.endedAt ?? new Date(),
    });
    this.log.info({ tenantId: task.tenantId, group: delegate.name, partition, arn }, 'delegate group identity reported');
  }
}

/**
 * The principal a trust policy names for a caller ARN. An assumed-role session
 * (`arn:aws:sts::123456789012:assumed-role/Name/session`) is trusted through its role; the session
 * ARN carries no role path, so a role created under a path must be named with it by hand.
 */
export function trustPrincipal(callerArn: string): string {
  const m = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(callerArn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : callerArn;
}
