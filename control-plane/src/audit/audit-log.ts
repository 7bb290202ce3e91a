import type { Logger } from 'pino';
import { newId } from '../ids.js';
import type { ActorRecord, AuditEntry, AuditStore } from '../store/audit-records.js';
import type { AuditAction } from './actions.js';

export interface AuditEvent {
  tenantId: string;
  actor: ActorRecord;
  action: AuditAction;
  target: AuditEntry['target'];
  outcome: string;
  diff?: AuditEntry['diff'];
  details?: AuditEntry['details'];
  at?: Date;
}

/**
 * Appends to a tenant's audit trail. The one writer: the audited-routes hook and the task-end
 * listener both come through here. A failed append is logged loudly but does not undo the action,
 * which has already happened by the time it is recorded.
 */
export class AuditLog {
  constructor(
    private readonly store: AuditStore,
    private readonly log: Logger,
  ) {}

  async record(event: AuditEvent): Promise<void> {
    const entry: AuditEntry = {
      id: newId('aud'),
      tenantId: event.tenantId,
      at: event.at ?? new Date(),
      actor: event.actor.who,
      role: event.actor.role,
      clientAddress: event.actor.clientAddress,
      userAgent: event.actor.userAgent,
      action: event.action,
      target: event.target,
      outcome: event.outcome,
      diff: event.diff ?? {},
      details: event.details ?? {},
    };
    try {
      await this.store.append(entry);
    } catch (err) {
      this.log.error({ err, tenantId: entry.tenantId, action: entry.action, target: entry.target }, 'failed to append to the audit trail');
    }
  }
}
