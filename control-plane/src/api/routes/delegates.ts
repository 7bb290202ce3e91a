import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { HELLO_LIMITS } from '../../delegates/hello.js';
import type { DelegateTokenService } from '../../delegates/token-service.js';
import { GROUP_NAME, GROUP_NAME_RULE, TAG, TAG_RULE } from '../../names.js';
import { KEY_TAG_PREFIX } from '../../security/sealed-refs.js';
import type { Store } from '../../store/store.js';
import type { Dispatcher } from '../../tasks/dispatcher.js';
import { requireTenant } from '../auth.js';
import { parseInput } from '../parse.js';
import { delegateView, tokenView } from '../views.js';

const createToken = z
  .object({
    name: z.string().trim().min(1).max(128),
    /** Binds the token to one delegate group: its delegates must register under this name. */
    group: z.string().regex(GROUP_NAME, `a delegate group name is ${GROUP_NAME_RULE}`).optional(),
    /** Binds the token to these tags: its delegates may declare no others. */
    tags: z
      .array(
        z
          .string()
          .regex(TAG, `a tag is ${TAG_RULE}`)
          // Key tags come from proven keys, never from a declaration, so allowing one would mean nothing.
          .refine((t) => !t.startsWith(KEY_TAG_PREFIX), `${KEY_TAG_PREFIX} tags come from the keys a delegate proves it holds and cannot be bound`),
      )
      .max(HELLO_LIMITS.maxTags)
      .optional(),
  })
  .strict();
const idParam = z.object({ id: z.string().min(1).max(64) });

export function delegateRoutes(
  app: FastifyInstance,
  deps: { tokens: DelegateTokenService; store: Store; dispatcher: Dispatcher; retentionSeconds: number; staleAfterMs: number },
): void {
  app.post('/v1/delegate-tokens', { config: { noStore: true } }, async (request, reply) => {
    const tenant = requireTenant(request);
    const body = parseInput(createToken, request.body, 'delegate token');
    const { record, token } = await deps.tokens.create(tenant.id, body.name, { group: body.group, tags: body.tags });
    return reply.code(201).send({ ...tokenView(record), token });
  });

  app.get('/v1/delegate-tokens', async (request) => {
    const tenant = requireTenant(request);
    return { items: (await deps.tokens.list(tenant.id)).map(tokenView) };
  });

  app.post('/v1/delegate-tokens/:id/revoke', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    return tokenView(await deps.tokens.revoke(tenant.id, id));
  });

  app.get('/v1/delegates', async (request) => {
    const tenant = requireTenant(request);
    const since = new Date(Date.now() - deps.retentionSeconds * 1000);
    const rows = await deps.store.listDelegates(tenant.id, since);
    return {
      items: rows.map((d) => {
        const live = deps.dispatcher.session(d.id);
        if (live) return delegateView(d, { inFlight: live.inFlight, status: live.status, lastHeartbeatAt: live.lastHeartbeatAt });
        // Held by another replica: trust the row only while its heartbeats keep it fresh; a replica
        // killed without cleanup leaves rows that must not look connected forever.
        const stale = d.status !== 'disconnected' && Date.now() - d.lastHeartbeatAt.getTime() > deps.staleAfterMs;
        return delegateView(d, stale ? { inFlight: 0, status: 'disconnected', lastHeartbeatAt: d.lastHeartbeatAt } : undefined);
      }),
    };
  });
}
