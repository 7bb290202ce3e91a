import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AppError, ErrorCode } from '../../errors.js';
import { isTerminal } from '../../store/store.js';
import { TAG } from '../../names.js';
import type { Store, TaskRecord } from '../../store/store.js';
import type { TaskService } from '../../tasks/task-service.js';
import { requireTenant } from '../auth.js';
import { defineOperations } from '../openapi/operation.js';
import { MAX_BODY_BYTES } from '../http-server.js';
import { errorBodySchema } from '../openapi/error-body.js';
import { decodeCursor, nextCursorSchema, pageInMemory, pageOf, pageQuery, pageQueryShape } from '../pagination.js';
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
const QUEUE_LIST = 'queue';

/** Items in one POST /v1/tasks/batch. */
export const MAX_BATCH_ITEMS = 1_000;
/** A batch body may be this large; each item still counts against MAX_BODY_BYTES on its own. */
export const MAX_BATCH_BODY_BYTES = 8 * 1024 * 1024;

export const createTaskBatch = z
  .object({
    tasks: z.array(z.unknown()).min(1).meta({ description: `Up to ${MAX_BATCH_ITEMS} tasks, each as POST /v1/tasks takes it.` }),
    atomic: z.boolean().default(false).meta({ description: 'Create every task or none: one failing item fails the request with its error, and nothing is stored.' }),
  })
  .strict();

const batchItemSchema = createTask.meta({ id: 'NewTask' });

export const batchResultSchema = z.object({
  results: z.array(
    z.object({
      index: z.number().int().meta({ description: 'Position of the item in `tasks`.' }),
      status: z.number().int().meta({ description: 'What POST /v1/tasks would have answered for this item alone: 201, or the error status.' }),
      task: taskViewSchema.optional(),
      error: errorBodySchema.shape.error.optional(),
    }),
  ),
  created: z.number().int(),
  failed: z.number().int(),
});

type BatchItem = { index: number; status: number; task?: z.output<typeof taskViewSchema>; error?: ReturnType<AppError['toJSON']> };

/** One item of a batch parsed as POST /v1/tasks parses its body, with its own size limit. */
export function parseBatchItem(item: unknown, index: number) {
  const bytes = Buffer.byteLength(JSON.stringify(item ?? null));
  if (bytes > MAX_BODY_BYTES) {
    return new AppError(ErrorCode.PAYLOAD_TOO_LARGE, `Item ${index} is ${bytes} bytes; a task may be at most ${MAX_BODY_BYTES} bytes, in a batch as alone.`, { limit: MAX_BODY_BYTES, index });
  }
  try {
    return parseInput(createTask, item, `tasks.${index}`);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
}

export function taskRoutes(app: FastifyInstance, deps: { tasks: TaskService; store: Store }): void {
  app.post('/v1/tasks', async (request, reply) => {
    const tenant = requireTenant(request);
    const body = parseInput(createTask, request.body, 'task');
    const { waitSeconds } = parseInput(waitQuery, request.query, 'query');
    const created = await deps.tasks.create(tenant.id, body, { requestedBy: request.actor });
    if (waitSeconds <= 0) return reply.code(201).send(await taskViewOf(deps.store, created));
    // Create and wait in one request: the ended task as GET answers it, or 202 while it still runs.
    const task = await deps.tasks.getAfterWait(tenant.id, created.id, waitSeconds, created);
    return reply.code(isTerminal(task.state) ? 200 : 202).send(await taskViewOf(deps.store, task));
  });

  app.post('/v1/tasks/batch', { bodyLimit: MAX_BATCH_BODY_BYTES }, async (request) => {
    const tenant = requireTenant(request);
    const body = parseInput(createTaskBatch, request.body, 'batch');
    if (body.tasks.length > MAX_BATCH_ITEMS) {
      throw new AppError(
        ErrorCode.BATCH_TOO_LARGE,
        `The batch has ${body.tasks.length} tasks; at most ${MAX_BATCH_ITEMS} go in one request. Split it into several batches.`,
        { max: MAX_BATCH_ITEMS, count: body.tasks.length },
      );
    }
    const outcomes = await deps.tasks.createMany(
      tenant.id,
      body.tasks.map((item, i) => parseBatchItem(item, i)),
      { atomic: body.atomic, requestedBy: request.actor },
    );
    const failures = outcomes.flatMap((o, index) => (o instanceof AppError ? [{ index, error: o }] : []));
    if (body.atomic && failures.length > 0) {
      const first = failures[0]!;
      throw new AppError(
        first.error.code,
        `Nothing was created (atomic batch): ${failures.length} of ${outcomes.length} tasks failed; item ${first.index}: ${first.error.message}`,
        { failures: failures.map((f) => ({ index: f.index, status: f.error.status, error: f.error.toJSON() })) },
      );
    }
    const views = await taskViews(deps.store, outcomes.filter((o): o is TaskRecord => !(o instanceof AppError)));
    let next = 0;
    const results: BatchItem[] = outcomes.map((o, index) =>
      o instanceof AppError ? { index, status: o.status, error: o.toJSON() } : { index, status: 201, task: views[next++]! },
    );
    return { results, created: views.length, failed: failures.length };
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
    const q = parseInput(pageQuery, request.query, 'query');
    const now = Date.now();
    const groups = await deps.store.queueStats(tenant.id);
    // Oldest first, as the store orders them; the key spells that order out so a page can start after one.
    const keyed = groups
      .map((g) => ({ g, key: `${g.oldestQueuedAt.toISOString()} ${g.type} ${g.selectors.join(',')}` }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const page = pageInMemory(QUEUE_LIST, keyed, q, ({ key }) => ({ key, id: key }));
    return {
      items: page.items.map(({ g }) => ({
        selectors: g.selectors,
        type: g.type,
        queued: g.queued,
        oldestQueuedAgeSeconds: Math.max(0, (now - g.oldestQueuedAt.getTime()) / 1000),
      })),
      nextCursor: page.nextCursor,
      // Every group's, whatever the page: the autoscaling signal.
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
  nextCursor: nextCursorSchema,
  queued: z.number().int().meta({ description: 'Queued tasks in every group, not only this page.' }),
});

export const taskOperations = defineOperations([
  {
    method: 'POST', path: '/v1/tasks', operationId: 'createTask', tag: 'tasks',
    summary: 'Queue a task for a delegate whose tags include all selectors.',
    description: 'With `waitSeconds`, waits for the task to end before answering: 200 with the ended task, or 202 with the task as it is when the wait is over.',
    body: createTask, query: waitQuery,
    responses: {
      201: { description: 'The task, queued (no waitSeconds).', schema: taskViewSchema },
      200: { description: 'The task, ended within waitSeconds.', schema: taskViewSchema },
      202: { description: 'The task, still queued or running when waitSeconds passed.', schema: taskViewSchema },
    },
  },
  {
    method: 'POST', path: '/v1/tasks/batch', operationId: 'createTaskBatch', tag: 'tasks',
    summary: `Queue up to ${MAX_BATCH_ITEMS} tasks in one request and one store transaction.`,
    description:
      'Each item is checked as POST /v1/tasks checks its body (schema, size, type, quotas counting the earlier items). Without `atomic`, the items that pass are created and each result says what happened to its item; with `atomic: true`, one failing item fails the whole request with its error (details.failures lists each) and nothing is stored. The batch is one audit entry.',
    body: createTaskBatch.extend({ tasks: z.array(batchItemSchema).min(1).max(MAX_BATCH_ITEMS) }),
    responses: { 200: { description: 'One result per item, in order.', schema: batchResultSchema } },
    errors: [413, 409],
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
    query: pageQuery,
    responses: { 200: { description: 'Queue depth per group, oldest first, one page of groups; `queued` counts them all.', schema: queueSchema } },
  },
]);
