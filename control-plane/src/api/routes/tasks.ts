import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TAG } from '../../names.js';
import type { Store } from '../../store/store.js';
import type { TaskService } from '../../tasks/task-service.js';
import { requireTenant } from '../auth.js';
import { defineOperations } from '../openapi/operation.js';
import { decodeCursor, nextCursorSchema, pageOf, pageQueryShape } from '../pagination.js';
import { parseInput } from '../parse.js';
import { taskViewOf, taskViews } from '../task-views.js';
import { TASK_STATES, taskViewSchema } from '../views.js';

const tag = z.string().regex(TAG, 'selectors are lowercase tags: letters, digits and . _ : / -');

export const createTask = z
  .object({
    type: z.string().min(1).max(64),
    payload: z.record(z.string(), z.unknown()).default({}),
    selectors: z.array(tag).max(32).default([]),
    priority: z.number().int().min(-1000).max(1000).optional(),
    queueTimeoutSeconds: z.number().int().min(1).max(86_400).optional(),
    runTimeoutSeconds: z.number().int().min(1).max(86_400).optional(),
  })
  .strict();

export const idParam = z.object({ id: z.string().min(1).max(64) });
export const waitQuery = z
  .object({ waitSeconds: z.coerce.number().min(0).max(60).default(0).meta({ description: 'Wait up to this long for the task to end before answering.' }) })
  .strict();
export const listQuery = z
  .object({
    state: z.enum(TASK_STATES).optional(),
    type: z.string().max(64).optional(),
    ...pageQueryShape,
    before: z.string().max(64).optional().meta({ description: 'Tasks created before this task id; `cursor` replaces it.', deprecated: true }),
  })
  .strict();

const TASKS_LIST = 'tasks';

export function taskRoutes(app: FastifyInstance, deps: { tasks: TaskService; store: Store }): void {
  app.post('/v1/tasks', async (request, reply) => {
    const tenant = requireTenant(request);
    const body = parseInput(createTask, request.body, 'task');
    const task = await deps.tasks.create(tenant.id, body, { requestedBy: request.actor });
    return reply.code(201).send(await taskViewOf(deps.store, task));
  });

  app.get('/v1/tasks', async (request) => {
    const tenant = requireTenant(request);
    const q = parseInput(listQuery, request.query, 'query');
    const beforeId = decodeCursor(TASKS_LIST, q.cursor)?.id ?? q.before;
    const rows = await deps.tasks.list(tenant.id, {
      limit: q.limit + 1,
      ...(q.state ? { state: q.state } : {}),
      ...(q.type ? { type: q.type } : {}),
      ...(beforeId ? { beforeId } : {}),
    });
    const page = pageOf(TASKS_LIST, rows, q.limit, (t) => ({ key: '', id: t.id }));
    const items = await taskViews(deps.store, page.items);
    return { items, nextCursor: page.nextCursor, next: page.nextCursor ? items[items.length - 1]!.id : null };
  });

  app.get('/v1/tasks/:id', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    const { waitSeconds } = parseInput(waitQuery, request.query, 'query');
    return taskViewOf(deps.store, await deps.tasks.getAfterWait(tenant.id, id, waitSeconds));
  });

  app.post('/v1/tasks/:id/cancel', async (request) => {
    const tenant = requireTenant(request);
    const { id } = parseInput(idParam, request.params, 'path');
    return taskViewOf(deps.store, await deps.tasks.cancel(tenant.id, id));
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

export const taskListSchema = z.object({
  items: z.array(taskViewSchema),
  nextCursor: nextCursorSchema,
  next: z.string().nullable().meta({ description: 'The last task id of this page when another follows; `nextCursor` replaces it.', deprecated: true }),
});

export const queueSchema = z.object({
  items: z.array(z.object({ selectors: z.array(z.string()), type: z.string(), queued: z.number().int(), oldestQueuedAgeSeconds: z.number() })),
  queued: z.number().int(),
});

export const taskOperations = defineOperations([
  {
    method: 'POST', path: '/v1/tasks', operationId: 'createTask', tag: 'tasks',
    summary: 'Queue a task for a delegate whose tags include all selectors.',
    body: createTask, responses: { 201: { description: 'The task, queued.', schema: taskViewSchema } },
  },
  {
    method: 'GET', path: '/v1/tasks', operationId: 'listTasks', tag: 'tasks',
    summary: 'Tasks, newest first.', query: listQuery,
    responses: { 200: { description: 'One page of tasks.', schema: taskListSchema } },
  },
  {
    method: 'GET', path: '/v1/tasks/:id', operationId: 'getTask', tag: 'tasks',
    summary: 'A task; with waitSeconds, once it ends or the wait is over.', params: idParam, query: waitQuery,
    responses: { 200: { description: 'The task.', schema: taskViewSchema } }, errors: [404],
  },
  {
    method: 'POST', path: '/v1/tasks/:id/cancel', operationId: 'cancelTask', tag: 'tasks',
    summary: 'Cancel a task that has not ended.', params: idParam,
    responses: { 200: { description: 'The task, cancelled (or as it ended).', schema: taskViewSchema } }, errors: [404, 409],
  },
  {
    method: 'GET', path: '/v1/queue', operationId: 'getQueue', tag: 'tasks',
    summary: "The tenant's queued tasks, grouped by selectors and type.",
    responses: { 200: { description: 'Queue depth per group (a summary, not a paged list).', schema: queueSchema } },
  },
]);
