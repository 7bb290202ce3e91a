import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { ApiClient } from '../api/client.js';
import { seg } from '../api/client.js';
import { isTerminal, type ProgressSource, type TaskView } from './progress-source.js';

const keyOf = (task: TaskView): string => `${task.state}|${task.attempt}|${task.delegateId ?? ''}`;

/**
 * Follows a task on the control plane's event stream (GET /v1/events, filtered to the task): one
 * open request instead of a poll per step, and each change shown as it happens. The SSE framing is
 * parsed by eventsource-parser, a small maintained parser that works on any byte stream (Node's
 * fetch has no EventSource). When the stream is refused, or ends before the task does (a reset, a
 * restart, a slow terminal), the rest is followed by `fallback` (polling).
 */
export class EventStreamProgressSource implements ProgressSource {
  constructor(
    private readonly api: ApiClient,
    private readonly fallback: ProgressSource,
  ) {}

  async *follow(taskId: string, signal?: AbortSignal): AsyncIterable<TaskView> {
    const abort = new AbortController();
    const stop = () => abort.abort();
    signal?.addEventListener('abort', stop, { once: true });
    try {
      const res = await this.api.openStream('/v1/events', { types: 'task.state', taskId }, abort.signal);
      if (!res?.body) {
        yield* this.fallback.follow(taskId, signal);
        return;
      }
      let last = '';
      // The task may have moved before the stream opened: one read settles where it is now.
      const { body: now } = await this.api.get<TaskView>(`/v1/tasks/${seg(taskId)}`);
      last = keyOf(now);
      yield now;
      if (isTerminal(now)) return;
      for await (const task of taskStates(res.body, taskId)) {
        const key = keyOf(task);
        if (key === last) continue;
        last = key;
        yield task;
        if (isTerminal(task)) return;
      }
      if (!signal?.aborted) yield* this.fallback.follow(taskId, signal);
    } finally {
      signal?.removeEventListener('abort', stop);
      abort.abort();
    }
  }
}

/** The task views carried by a stream's task.state events, until the stream ends or resets. */
async function* taskStates(body: ReadableStream<Uint8Array>, taskId: string): AsyncIterable<TaskView> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (e) => pending.push(e) });
  const decoder = new TextDecoder();
  try {
    for await (const chunk of body) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      while (pending.length > 0) {
        const e = pending.shift()!;
        // A reset means events were missed: the caller re-reads the task through its fallback.
        if (e.event === 'reset') return;
        if (e.event !== 'task.state') continue;
        const task = (JSON.parse(e.data) as { task: TaskView }).task;
        if (task.id === taskId) yield task;
      }
    }
  } catch {
    // Aborted by the caller or cut by the network: either way the caller's fallback takes over.
  }
}
