import type { Bus } from '../bus/bus.js';
import type { TaskRecord } from '../store/store.js';

type Wake = (ended?: TaskRecord) => void;

/**
 * Lets API calls block until a task ends (GET /v1/tasks/{id}?waitSeconds=N) without polling the store.
 * An end on this replica hands the ended task itself to its waiters (`ended`), so answering needs no
 * read; an end on another replica arrives on the bus and wakes them to read it.
 */
export class TaskWaiters {
  private readonly waiting = new Map<string, Set<Wake>>();
  private readonly off: () => void;

  constructor(bus: Bus) {
    this.off = bus.subscribe('task.ended', (m) => this.wake(m.taskId));
  }

  /** A task ended on this replica (TaskLifecycle.onEnded). */
  ended(task: TaskRecord): void {
    this.wake(task.id, task);
  }

  /**
   * Resolves when the task ends or `ms` pass: with the ended task when it ended on this replica,
   * otherwise with nothing. `check` runs after subscribing, so an end that happened just before the
   * call is not missed.
   */
  async wait(taskId: string, ms: number, check: () => Promise<boolean>): Promise<TaskRecord | undefined> {
    let wake!: Wake;
    const woken = new Promise<TaskRecord | undefined>((r) => (wake = r));
    let set = this.waiting.get(taskId);
    if (!set) this.waiting.set(taskId, (set = new Set()));
    set.add(wake);
    const timer = setTimeout(wake, ms);
    try {
      if (await check()) return undefined;
      return await woken;
    } finally {
      clearTimeout(timer);
      set.delete(wake);
      if (set.size === 0 && this.waiting.get(taskId) === set) this.waiting.delete(taskId);
    }
  }

  private wake(taskId: string, ended?: TaskRecord): void {
    const set = this.waiting.get(taskId);
    if (!set) return;
    this.waiting.delete(taskId);
    for (const wake of set) wake(ended);
  }

  close(): void {
    this.off();
    for (const set of this.waiting.values()) for (const wake of set) wake();
    this.waiting.clear();
  }
}
