import { createHash } from 'node:crypto';

/**
 * A delegate's id is derived from its tenant, group name and process instance, so a process that
 * reconnects keeps its id (and can re-adopt the tasks it still runs) while replicas stay distinct.
 */
export function delegateId(tenantId: string, name: string, instanceId: string): string {
  const digest = createHash('sha256').update(`${tenantId}\0${name}\0${instanceId}`).digest('base64url');
  return `dlg_${digest.slice(0, 22)}`;
}
