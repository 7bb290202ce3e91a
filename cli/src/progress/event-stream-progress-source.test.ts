import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../api/client.js';
import { EventStreamProgressSource } from './event-stream-progress-source.js';
import type { ProgressSource, TaskView } from './progress-source.js';

const view = (state: TaskView['state'], delegateId: string | null = null): TaskView => ({
  id: 'tsk_1', type: 'echo', state, attempt: 1, maxAttempts: 3, delegateId, accountId: null, result: null, error: null,
});
const frame = (id: string, task: TaskView) => `id: ${id}\nevent: task.state\ndata: ${JSON.stringify({ type: 'task.state', at: new Date().toISOString(), task })}\n\n`;

/** A fallback that says it was used: what the stream source hands over to when it must. */
class Recorded implements ProgressSource {
  used = 0;
  async *follow(): AsyncIterable<TaskView> {
    this.used += 1;
    yield view('succeeded', 'dlg_poll');
  }
}

describe('EventStreamProgressSource (against a local HTTP server speaking SSE)', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<ApiClient> {
    server = createServer(handler);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return new ApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'atk_test');
  }

  const all = async (source: ProgressSource) => {
    const seen: TaskView[] = [];
    for await (const t of source.follow('tsk_1')) seen.push(t);
    return seen;
  };

  it('yields each change the stream carries for the task, ending with its terminal view', async () => {
    const asked: string[] = [];
    const api = await serve((req, res) => {
      asked.push(req.url!);
      if (req.url!.startsWith('/v1/events')) {
        expect(req.headers.authorization).toBe('Bearer atk_test');
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': connected\n\n');
        const other = { ...view('running'), id: 'tsk_other' };
        setTimeout(() => res.write(frame('e-1', view('queued')) + frame('e-2', other) + frame('e-3', view('running', 'dlg_a'))), 20);
        setTimeout(() => res.end(frame('e-4', view('succeeded', 'dlg_a'))), 60);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(view('queued')));
    });
    const fallback = new Recorded();
    const seen = await all(new EventStreamProgressSource(api, fallback));
    expect(seen.map((t) => `${t.state}:${t.delegateId ?? ''}`)).toEqual(['queued:', 'running:dlg_a', 'succeeded:dlg_a']);
    expect(fallback.used).toBe(0);
    expect(asked[0]).toBe('/v1/events?types=task.state&taskId=tsk_1');
    expect(asked.filter((u) => u.startsWith('/v1/tasks/'))).toEqual(['/v1/tasks/tsk_1']);
  });

  it('falls back to polling when the stream is refused, or ends with a reset before the task does', async () => {
    const refused = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":{"code":"NOT_FOUND","message":"no","details":{}}}');
    });
    const fallback = new Recorded();
    expect((await all(new EventStreamProgressSource(refused, fallback))).map((t) => t.delegateId)).toEqual(['dlg_poll']);
    expect(fallback.used).toBe(1);
    await new Promise<void>((r) => server!.close(() => r()));

    const resets = await serve((req, res) => {
      if (req.url!.startsWith('/v1/events')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('event: reset\ndata: {"type":"reset","reason":"expired"}\n\n' + frame('e-9', view('succeeded', 'dlg_never')));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(view('running', 'dlg_a')));
    });
    const second = new Recorded();
    const seen = await all(new EventStreamProgressSource(resets, second));
    expect(seen.map((t) => `${t.state}:${t.delegateId}`)).toEqual(['running:dlg_a', 'succeeded:dlg_poll']);
    expect(second.used).toBe(1);
  });
});
