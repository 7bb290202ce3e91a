import type { FastifyInstance } from 'fastify';
import type { DelegateRelease } from '../../delegates/delegate-release.js';
import type { Presence } from '../../delegates/presence.js';
import type { Store } from '../../store/store.js';
import { z } from 'zod';
import { requireTenant } from '../auth.js';
import { defineOperations } from '../openapi/operation.js';
import { nextCursorSchema, pageInMemory, pageQuery } from '../pagination.js';
import { parseInput } from '../parse.js';
import { DELEGATE_STATUSES, delegateView } from '../views.js';

const GATEWAYS_LIST = 'gateways';

/**
 * Delegate groups as gateways ("Connect Private Cloud Gateway"): every delegate name is a group,
 * its processes are the replicas, and an account with `gateway` runs only there.
 */
export function gatewayRoutes(app: FastifyInstance, deps: { store: Pick<Store, 'listDelegateIdentities'>; presence: Pick<Presence, 'list'>; release: DelegateRelease; retentionSeconds: number }): void {
  app.get('/v1/gateways', async (request) => {
    const tenant = requireTenant(request);
    const q = parseInput(pageQuery, request.query, 'query');
    const since = new Date(Date.now() - deps.retentionSeconds * 1000);
    const [rows, identities] = await Promise.all([deps.presence.list(tenant.id, since), deps.store.listDelegateIdentities(tenant.id)]);
    const groups = new Map<string, ReturnType<typeof delegateView>[]>();
    for (const { row, presence } of rows) {
      // A killed replica's rows stay "connected" in the store; presence shows them disconnected once stale.
      const view = delegateView(row, deps.release, presence);
      if (view.status === 'disconnected') continue;
      groups.set(row.name, [...(groups.get(row.name) ?? []), view]);
    }
    // A gateway gathers all of its group's rows, so gateways are paged after grouping, by name.
    const sorted = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const page = pageInMemory(GATEWAYS_LIST, sorted, q, ([name]) => ({ key: name, id: name }));
    return {
      nextCursor: page.nextCursor,
      items: page.items
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
            outdated: r.outdated,
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

export const gatewaySchema = z.object({
  name: z.string().meta({ description: 'The delegate group name.' }),
  connected: z.number().int(),
  replicas: z.array(
    z.object({
      id: z.string(),
      instanceId: z.string(),
      status: z.enum(DELEGATE_STATUSES),
      tags: z.array(z.string()),
      taskTypes: z.array(z.string()),
      inFlight: z.number().int(),
      maxConcurrency: z.number().int(),
      version: z.string(),
      outdated: z.boolean().meta({ description: 'Older than the current delegate release, or not a semantic version.' }),
      transport: z.string(),
      connectedAt: z.iso.datetime(),
      lastHeartbeatAt: z.iso.datetime(),
    }),
  ),
  identities: z.array(z.object({ partition: z.string(), arn: z.string(), awsAccountId: z.string(), reportedAt: z.iso.datetime() })),
});

export const gatewayOperations = defineOperations([
  {
    method: 'GET', path: '/v1/gateways', operationId: 'listGateways', tag: 'delegates',
    summary: 'Delegate groups with a connected replica, by name, with the IAM identities they reported.', query: pageQuery,
    responses: { 200: { description: 'One page of gateways.', schema: z.object({ items: z.array(gatewaySchema), nextCursor: nextCursorSchema }) } },
  },
]);
