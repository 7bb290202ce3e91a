import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { queuedTask, realStore, seedTenant } from '../../delegates/test-support.js';
import type { TaskService } from '../../tasks/task-service.js';
import { AppError } from '../../errors.js';
import { taskRoutes } from './tasks.js';

describe('GET /v1/queue', () => {
  it('pages its groups oldest first with a cursor, while `queued` counts every group', async () => {
    const store = await realStore();
    const tenant = await seedTenant(store, 'acme');
    const now = Date.now();
    // Three groups (selectors × type), queued 30, 20 and 10 seconds ago; the oldest holds two tasks.
    const groups = [
      { selectors: ['east'], type: 'echo', ages: [30, 25] },
      { selectors: ['west'], type: 'echo', ages: [20] },
      { selectors: ['east'], type: 'aws.validate', ages: [10] },
    ];
    let n = 0;
    for (const g of groups) {
      for (const age of g.ages) {
        const at = new Date(now - age * 1000);
        await store.insertTask(queuedTask(tenant.id, `tsk_q${++n}`, { selectors: g.selectors, type: g.type, createdAt: at, queuedAt: at }));
      }
    }
    const app = Fastify();
    // The API's errors as the server's handler answers them (api/http-server.ts).
    app.setErrorHandler(async (err, _request, reply) => (err instanceof AppError ? reply.code(err.status).send({ error: err.toJSON() }) : reply.send(err)));
    app.addHook('onRequest', async (request) => {
      request.principal = { kind: 'tenant', tenant, role: 'viewer', via: { type: 'apiKey', key: {} as never } };
    });
    taskRoutes(app, { store, tasks: {} as TaskService });
    try {
      const seen: Array<[string, string]> = [];
      let cursor: string | null = null;
      for (let pages = 0; ; pages++) {
        const res = await app.inject({ method: 'GET', url: `/v1/queue?limit=2${cursor ? `&cursor=${cursor}` : ''}` });
        expect(res.statusCode, res.body).toBe(200);
        const body = res.json();
        expect(body.queued).toBe(4);
        expect(body.items.length).toBeLessThanOrEqual(2);
        seen.push(...body.items.map((i: { selectors: string[]; type: string }) => [i.selectors.join(','), i.type] as [string, string]));
        cursor = body.nextCursor;
        if (!cursor) break;
        expect(pages).toBeLessThan(3);
      }
      expect(seen).toEqual([
        ['east', 'echo'],
        ['west', 'echo'],
        ['east', 'aws.validate'],
      ]);
      const whole = (await app.inject({ method: 'GET', url: '/v1/queue' })).json();
      expect(whole.nextCursor).toBeNull();
      expect(whole.items.map((i: { queued: number }) => i.queued)).toEqual([2, 1, 1]);
      expect(whole.items[0].oldestQueuedAgeSeconds).toBeGreaterThanOrEqual(30);
      // A cursor of another list, or an unknown parameter, is refused rather than misread.
      const tasksCursor = Buffer.from(JSON.stringify({ l: 'tasks', k: '', i: 'tsk_q1' })).toString('base64url');
      for (const url of [`/v1/queue?cursor=${tasksCursor}`, '/v1/queue?limit=0', '/v1/queue?page=2']) {
        const res = await app.inject({ method: 'GET', url });
        expect(res.statusCode, url).toBe(400);
        expect(res.json().error.code).toBe('VALIDATION_FAILED');
      }
    } finally {
      await app.close();
      await store.close();
    }
  });
});
