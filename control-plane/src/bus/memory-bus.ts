import type { Bus, BusEvents, BusTopic, Unsubscribe } from './bus.js';

/** One process, one bus: handlers run on a later microtask so a publisher never re-enters itself. */
export class MemoryBus implements Bus {
  readonly kind = 'memory';
  private readonly handlers = new Map<BusTopic, Set<(message: never) => void>>();
  private closed = false;

  async publish<T extends BusTopic>(topic: T, message: BusEvents[T]): Promise<void> {
    if (this.closed) return;
    const set = this.handlers.get(topic);
    if (!set) return;
    for (const handler of [...set]) {
      queueMicrotask(() => (handler as (m: BusEvents[T]) => void)(message));
    }
  }

  subscribe<T extends BusTopic>(topic: T, handler: (message: BusEvents[T]) => void): Unsubscribe {
    let set = this.handlers.get(topic);
    if (!set) {
      set = new Set();
      this.handlers.set(topic, set);
    }
    const h = handler as (message: never) => void;
    set.add(h);
    return () => set.delete(h);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handlers.clear();
  }
}
