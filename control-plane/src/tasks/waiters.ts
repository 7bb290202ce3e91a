import type { Bus } from '../bus/bus.js';

/** Lets API calls block until a task ends (GET /v1/tasks/{id}?waitSeconds=N) without polling the store. */
export class TaskWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();
  private readonly off: () => void;

  constructor(bus: Bus) {
    this.off = bus.subscribe('task.ended', (m) => {
      const set = this.waiting.get(m.taskId);
      if (!set) return;
      this.waiting.delete(m.taskId);
      for (const wake of set) wake();
    });
  }

  /**
   * Resolves when the task ends or `ms` pass. `check` runs after subscribing, so an end that
   * happened just before the call is not missed.
   */
  async wait(taskId: string, ms: number, check: () => Promise<boolean>): Promise<void> {
    let wake!: () => void;
    const woken = new Promise<void>((r) => (wake = r));
    let set = this.waiting.get(taskId);
    if (!set) this.waiting.set(taskId, (set = new Set()));
    set.add(wake);
    const timer = setTimeout(wake, ms);
    try {
      if (await check()) return;
      await woken;
    } finally {
      clearTimeout(timer);
      set.delete(wake);
      if (set.size === 0 && this.waiting.get(taskId) === set) this.waiting.delete(taskId);
    }
  }

  close(): void {
    this.off();
    for (const set of this.waiting.values()) for (const wake of set) wake();
    this.waiting.clear();
  }
}
