import type { Store, TaskRecord } from '../store/store.js';
import { taskView, type TaskView } from './views.js';

/**
 * Task views with the name of the delegate that holds or ran each task: tasks keep only the
 * delegate's id, so the names are looked up, once per response.
 */
export async function taskViews(store: Store, tasks: readonly TaskRecord[]): Promise<TaskView[]> {
  const tenantId = tasks[0]?.tenantId;
  const ids = tasks.flatMap((t) => (t.delegateId ? [t.delegateId] : []));
  const names = tenantId && ids.length > 0 ? await store.delegateNames(tenantId, ids) : new Map<string, string>();
  return tasks.map((t) => taskView(t, t.delegateId ? names.get(t.delegateId) ?? null : null));
}

export async function taskViewOf(store: Store, task: TaskRecord): Promise<TaskView> {
  return (await taskViews(store, [task]))[0]!;
}
