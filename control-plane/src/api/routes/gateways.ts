import type { FastifyInstance } from 'fastify';
import type { Store } from '../../store/store.js';
import type { Dispatcher } from '../../tasks/dispatcher.js';
import { requireTenant } from '../auth.js';
import { delegateView } from '../views.js';

/**
 * Delegate groups as gateways ("Connect Private Cloud Gateway"): every delegate name is a group,
 * its processes are the replicas, and an account with `gateway` runs only there.
 */
export function gatewayRoutes(app: FastifyInstance, deps: { store: Store; dispatcher: Dispatcher; retentionSeconds: number }): void {
  app.get('/v1/gateways', async (request) => {
    const tenant = requireTenant(request);
    const since = new Date(Date.now() - deps.retentionSeconds * 1000);
    const [rows, identities] = await Promise.all([deps.store.listDelegates(tenant.id, since), deps.store.listDelegateIdentities(tenant.id)]);
    const groups = new Map<string, ReturnType<typeof delegateView>[]>();
    for (const d of rows) {
      const live = deps.dispatcher.session(d.id);
      const view = delegateView(d, live ? { inFlight: live.inFlight, status: live.status, lastHeartbeatAt: live.lastHeartbeatAt } : undefined);
      if (view.status === 'disconnected') continue;
      groups.set(d.name, [...(groups.get(d.name) ?? []), view]);
    }
    return {
      items: [...groups.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([name, replicas]) => ({
          name,
          connected: replicas.filter((r) => r.status === 'connected').length,
          replicas: replicas.map((r) => ({
            id: r.id,
            instanceId: r.instanceId,
            status: r.status,
            tags: r.tags,
            taskTypes: r.taskTypes,
            inFlight: r.inFlight,
            maxConcurrency: r.maxConcurrency,
            version: r.version,
            transport: r.transport,
            connectedAt: r.connectedAt,
            lastHeartbeatAt: r.lastHeartbeatAt,
          })),
          identities: identities
            .filter((i) => i.group === name)
            .map((i) => ({ partition: i.partition, arn: i.arn, awsAccountId: i.awsAccountId, reportedAt: i.reportedAt.toISOString() })),
        })),
    };
  });
}
