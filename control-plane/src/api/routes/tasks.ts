import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TAG } from '../../names.js';
import type { Store } from '../../store/store.js';
import type { TaskService } from '../../tasks/task-service.js';
import { requireTenant } from '../auth.js';
import { parseInput } from '../parse.js';
import { taskView } from '../views.js';

const tag = z.string().regex(TAG, 'selectors are lowercase tags: letters, digits and . _ : / -');

const createTask = z
  .object({
    type: z.string().min(1).max(64),
    payload: z.record(z.string(), z.unknown()).default({}),
    selectors: z.array(tag).max(32).default([]),
    priority: z.number().int().min(-1000).max(1000).optional(),
    queueTimeoutSeconds: z.number().int().min(1).max(86_400).optional(),
    runTimeoutSeconds: z.number().int().min(1).max(86_400).optional(),
  })
  .strict();

const idParam = z.object({ id: z.string().min(1).max(64) });
export const waitQuery = z.object({ waitSeconds: z.coerce.number().min(0).max(60).default(0) }).strict();
const listQuery = z
  .object({
    state: z.enum(['queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled', 'expired']).optional(),
    type: z.string().max(64).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    before: z.string().max(64).optional(),
  })
  .strict();

export function taskRoutes(app: FastifyInstance, deps: { tasks: TaskService; store: Store }): void {
  app.post('/v1/tasks', async (request, reply) => {
    const tenant = requireTenant(request);
    const body = parseInput(createTask, request.body, 'task');
    const task = await deps.tasks.create(tenant.id, body, { requestedBy: request.actor });
    return reply.code(201).send(taskView(task));
  });

  app.get('/v1/tasks', async (request) => {
    const tenant = requireTenant(request);
    const q = parseInput(listQuery, request.query, 'query');
    const items = await deps.tasks.list(tenant.id, {
      limit: q.limit,
      ...(q.state ? { state: q.state } : {}),
      ...(q.type ? { type: q.type } : {}),
      ...(q.before ? { beforeId: q.before } : {}),
    });
    return { items: items.map(taskView), next: items.length === q.limit ? items[items.length - 1]?.id ?? null : null };
  });

  app.get('/v1/tasks/:id', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    const { waitSeconds } = parseInput(waitQuery, request.query, 'query');
    return taskView(await deps.tasks.getAfterWait(tenant.id, id, waitSeconds));
  });

  app.post('/v1/tasks/:id/cancel', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    return taskView(await deps.tasks.cancel(tenant.id, id));
  });

  app.get('/v1/queue', async (request) => {
    const tenant = requireTenant(request);
    const now = Date.now();
    const groups = await deps.store.queueStats(tenant.id);
    return {
      items: groups.map((g) => ({
        selectors: g.selectors,
        type: g.type,
        queued: g.queued,
        oldestQueuedAgeSeconds: Math.max(0, (now - g.oldestQueuedAt.getTime()) / 1000),
      })),
      queued: groups.reduce((n, g) => n + g.queued, 0),
    };
  });
}
