import type { ApiClient } from '../api/client.js';
import { statusLine } from '../output/spinner.js';
import type { Terminal } from '../output/terminal.js';
import { isTerminal, type ProgressSource, type TaskView } from './progress-source.js';

/**
 * Follows a task to its end, showing its step (state and attempt) and the delegate running it:
 * a spinner on a terminal, a line per change elsewhere. Returns the terminal view.
 */
export async function followTask(api: ApiClient, source: ProgressSource, term: Terminal, task: TaskView, label: string): Promise<TaskView> {
  if (isTerminal(task)) return task;
  const status = statusLine(term);
  const names = new DelegateNames(api);
  let final = task;
  try {
    status.update(await describe(task, label, names));
    for await (const t of source.follow(task.id)) {
      final = t;
      if (isTerminal(t)) break;
      status.update(await describe(t, label, names));
    }
  } finally {
    status.stop();
  }
  return final;
}

async function describe(task: TaskView, label: string, names: DelegateNames): Promise<string> {
  const on = task.delegateId ? ` on ${await names.of(task.delegateId)}` : '';
  const attempt = task.attempt > 1 ? ` (attempt ${task.attempt}/${task.maxAttempts})` : '';
  return `${label}: ${task.state}${on}${attempt}`;
}

/** Delegate ids to "name (id)", from GET /v1/delegates, looked up once per id. */
class DelegateNames {
  private readonly known = new Map<string, string>();
  constructor(private readonly api: ApiClient) {}

  async of(id: string): Promise<string> {
    const hit = this.known.get(id);
    if (hit) return hit;
    try {
      const body = await this.api.list<{ id: string; name: string }>('/v1/delegates');
      for (const d of body.items) this.known.set(d.id, `delegate ${d.name} (${d.id})`);
    } catch {
      // Progress is best effort: the id alone still says where the task runs.
    }
    return this.known.get(id) ?? `delegate ${id}`;
  }
}
