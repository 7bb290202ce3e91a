import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Bus } from '../../bus/bus.js';
import { ALL_TYPES, type EventFilter } from '../../events/event-filter.js';
import type { EventHub } from '../../events/event-hub.js';
import { EVENT_TYPES, type EventType } from '../../events/event-types.js';
import { sseComment, sseEvent } from '../../events/sse.js';
import { requireTenant } from '../auth.js';
import { TERMINAL_STATES } from '../../store/store.js';
import { TASK_STATES } from '../views.js';
import { defineOperations } from '../openapi/operation.js';
import { parseInput } from '../parse.js';

/** A comment this often keeps proxies and load balancers from closing an idle stream. */
export const KEEPALIVE_MS = 15_000;

const idFilter = z.string().min(1).max(64);

export const eventsQuery = z
  .object({
    types: z
      .string()
      .max(200)
      .optional()
      .meta({ description: `Comma-separated event types to receive: ${EVENT_TYPES.join(', ')}. Default: all.` })
      .transform((v, ctx) => {
        if (v === undefined || v.trim() === '') return undefined;
        const names = v.split(',').map((s) => s.trim()).filter(Boolean);
        const unknown = names.filter((n) => !(EVENT_TYPES as readonly string[]).includes(n));
        if (unknown.length > 0) {
          ctx.addIssue({ code: 'custom', message: `unknown event type ${unknown.map((u) => `"${u}"`).join(', ')}; expected ${EVENT_TYPES.join(', ')}` });
          return z.NEVER;
        }
        return names as EventType[];
      }),
    states: z
      .string()
      .max(200)
      .optional()
      .meta({
        description: `Comma-separated task states: task.state events only for tasks entering one of them (${TASK_STATES.join(', ')}; "ended" stands for ${TERMINAL_STATES.join(', ')}). Events of other types are not affected. Default: every state.`,
      })
      .transform((v, ctx) => {
        if (v === undefined || v.trim() === '') return undefined;
        const names = v.split(',').map((s) => s.trim()).filter(Boolean).flatMap((n) => (n === 'ended' ? [...TERMINAL_STATES] : [n]));
        const unknown = names.filter((n) => !(TASK_STATES as readonly string[]).includes(n));
        if (unknown.length > 0) {
          ctx.addIssue({ code: 'custom', message: `unknown task state ${unknown.map((u) => `"${u}"`).join(', ')}; expected ${TASK_STATES.join(', ')} or "ended"` });
          return z.NEVER;
        }
        return names;
      }),
    taskId: idFilter.optional().meta({ description: 'Only events about this task (its states, and the validation it ran).' }),
    accountId: idFilter.optional().meta({ description: 'Only events about this AWS account (its validations and their tasks).' }),
    delegateId: idFilter.optional().meta({ description: 'Only events about this delegate (its presence, and the tasks it holds).' }),
    lastEventId: z
      .string()
      .max(64)
      .optional()
      .meta({ description: 'Resume after this event id, for clients that cannot set the Last-Event-ID header (the header wins).' }),
  })
  .strict();

export interface EventRouteDeps {
  hub: EventHub;
  bus: Bus;
  /** Checks the request's credentials again (revoked key, ended session); false ends the stream. */
  stillAuthorized: (request: FastifyRequest) => Promise<boolean>;
  maxPendingBytes: number;
  keepaliveMs?: number;
}

/**
 * GET /v1/events: the tenant's events as Server-Sent Events. The response is a stream Fastify
 * sends like any body (so the usual headers and the request log apply); this handler writes
 * frames into it until the client goes, the credentials stop being valid, or the client reads
 * too slowly (then the stream ends and the client resumes with Last-Event-ID).
 */
export function eventRoutes(app: FastifyInstance, deps: EventRouteDeps): void {
  app.get('/v1/events', async (request, reply) => {
    const tenant = requireTenant(request);
    const q = parseInput(eventsQuery, request.query, 'query');
    const header = request.headers['last-event-id'];
    const lastEventId = (Array.isArray(header) ? header[0] : header) || q.lastEventId;
    const filter: EventFilter = {
      types: q.types ? new Set(q.types) : ALL_TYPES,
      taskId: q.taskId,
      accountId: q.accountId,
      delegateId: q.delegateId,
      states: q.states ? new Set(q.states) : undefined,
    };
    const out = new PassThrough();
    let ended = false;
    const pending = () => out.writableLength + out.readableLength + reply.raw.writableLength;
    const end = (why: string) => {
      if (ended) return;
      ended = true;
      cleanup();
      request.log.info({ tenantId: tenant.id, why }, 'event stream closed');
      out.end(sseComment(`closed: ${why}`));
    };
    const write = (frame: string) => {
      if (ended) return;
      if (pending() > deps.maxPendingBytes) return end('the client reads too slowly; resume with Last-Event-ID');
      out.write(frame);
    };
    const opened = deps.hub.open(tenant.id, filter, lastEventId, {
      event: (e) => write(sseEvent(e.id, e.event.type, e.event)),
      end,
    });
    let checking = false;
    const recheck = () => {
      if (checking || ended) return;
      checking = true;
      deps
        .stillAuthorized(request)
        .then((ok) => {
          if (!ok) end('the credentials of this stream are no longer valid');
        })
        .finally(() => (checking = false));
    };
    const keepalive = setInterval(() => {
      write(sseComment('keepalive'));
      recheck();
    }, deps.keepaliveMs ?? KEEPALIVE_MS);
    keepalive.unref();
    // Revoking or rotating a key publishes this; the key cache drops it in the same turn, so look on the next.
    const offCredentials = deps.bus.subscribe('credentials.changed', (m) => {
      if (m.tenantId === tenant.id) setImmediate(recheck);
    });
    const cleanup = () => {
      clearInterval(keepalive);
      offCredentials();
      opened.close();
    };
    reply.raw.once('close', () => {
      if (!ended) {
        ended = true;
        cleanup();
        request.log.info({ tenantId: tenant.id, why: 'the client went away' }, 'event stream closed');
      }
    });
    // A stream that the client ends is not an answered request for Fastify's log: say it here.
    request.log.info(
      { tenantId: tenant.id, types: [...filter.types], states: q.states, taskId: q.taskId, accountId: q.accountId, delegateId: q.delegateId, resumed: lastEventId !== undefined, reset: opened.reset },
      'event stream opened',
    );

    out.write(sseComment('connected'));
    if (opened.reset) write(sseEvent(null, 'reset', { type: 'reset', reason: opened.reset }));
    for (const e of opened.replay) write(sseEvent(e.id, e.event.type, e.event));
    return reply
      .header('content-type', 'text/event-stream; charset=utf-8')
      .header('cache-control', 'no-store')
      // Proxies that buffer responses (nginx) would hold events back.
      .header('x-accel-buffering', 'no')
      .send(out);
  });
}

export const eventOperations = defineOperations([
  {
    method: 'GET', path: '/v1/events', operationId: 'streamEvents', tag: 'tasks',
    summary: "The tenant's task states, account validations and delegate presence, as Server-Sent Events.",
    description: [
      'A `text/event-stream` that starts with the comment `: connected` and sends `: keepalive` every 15 s.',
      'Each event has an `id:` (an opaque cursor), an `event:` name (its type) and one JSON line of `data:`',
      '(TaskStateEvent, AccountValidatedEvent, DelegatePresenceEvent).',
      'Reconnect with the `Last-Event-ID` header (or `lastEventId=`) to receive what was missed; when this replica',
      'no longer holds those events (too old, too many, or a cursor from another replica or before a restart),',
      'the stream starts with `event: reset` (ResetEvent): refetch the lists, then follow the live events.',
      'A client that reads too slowly, or whose key or session stops being valid, is disconnected.',
    ].join(' '),
    query: eventsQuery,
    responses: {
      200: {
        description: 'The event stream.',
        schema: z.string().meta({
          description:
            'SSE frames. The `data:` of each event is one JSON line: `{type:"task.state", at, task}` (task: the Task view), `{type:"account.validated", at, account:{id, name, status, awsAccountId?, taskId, error?}}`, `{type:"delegate.presence", at, delegate:{id, name, group?, status}}`, or `{type:"reset", reason}`.',
        }),
        contentType: 'text/event-stream',
      },
    },
  },
]);

