import type { ApiClient } from '../api/client.js';
import { seg } from '../api/client.js';

/** The task view of the API (GET /v1/tasks/{id}), as far as progress needs it. */
export interface TaskView {
  id: string;
  type: string;
  state: 'queued' | 'assigned' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'expired';
  attempt: number;
  maxAttempts: number;
  delegateId: string | null;
  accountId: string | null;
  result: Record<string, any> | null;
  error: { code: string; message: string; details?: Record<string, unknown> } | null;
  [field: string]: unknown;
}

export const TERMINAL_STATES: ReadonlySet<string> = new Set(['succeeded', 'failed', 'cancelled', 'expired']);
export const isTerminal = (task: Pick<TaskView, 'state'>): boolean => TERMINAL_STATES.has(task.state);

/**
 * Where a command learns how a task moves: the event stream (GET /v1/events, see
 * event-stream-progress-source.ts), or a poll of GET /v1/tasks/{id}?waitSeconds=N when the stream is refused.
 */
export interface ProgressSource {
  /** Yields the task each time its state, attempt or delegate changes, ending with its terminal view. */
  follow(taskId: string, signal?: AbortSignal): AsyncIterable<TaskView>;
}

/**
 * Polls with a short server-side wait: the request returns at once when the task ends, else after
 * `waitSeconds`, so a change shows within that time and a finished task at once.
 */
export class PollingProgressSource implements ProgressSource {
  constructor(
    private readonly api: ApiClient,
    private readonly waitSeconds = 1,
  ) {}

  async *follow(taskId: string, signal?: AbortSignal): AsyncIterable<TaskView> {
    let last = '';
    while (!signal?.aborted) {
      const { body: task } = await this.api.get<TaskView>(`/v1/tasks/${seg(taskId)}`, { waitSeconds: this.waitSeconds });
      const key = `${task.state}|${task.attempt}|${task.delegateId ?? ''}`;
      if (key !== last || isTerminal(task)) yield task;
      last = key;
      if (isTerminal(task)) return;
    }
  }
}
