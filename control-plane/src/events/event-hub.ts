import type { Bus } from '../bus/bus.js';
import { AppError, ErrorCode } from '../errors.js';
import { EventBuffer, type BufferedEvent, type BufferLimits, type ResetReason } from './event-buffer.js';
import { matches, type EventFilter } from './event-filter.js';

/** Where a stream's events go: the SSE route writes them to its response. */
export interface EventSink {
  event(e: BufferedEvent): void;
  /** The hub is closing (shutdown): end the stream, so the HTTP server can close. */
  end(why: string): void;
}

export interface OpenedStream {
  /** Set when the Last-Event-ID could not be resumed: send a reset before anything else. */
  readonly reset: ResetReason | null;
  /** Buffered events after the Last-Event-ID, already filtered, to send before live ones. */
  readonly replay: readonly BufferedEvent[];
  close(): void;
}

interface Subscriber {
  filter: EventFilter;
  sink: EventSink;
}

/**
 * This replica's side of GET /v1/events. Every replica receives every tenant event from the bus
 * (whichever replica caused it), appends it to its buffer and hands it to the streams it serves.
 * Opening a stream registers it and reads the replay in the same synchronous step, so no event
 * falls between the replay and the live feed.
 */
export class EventHub {
  private readonly buffer: EventBuffer;
  private readonly streams = new Map<string, Set<Subscriber>>();
  private readonly off: () => void;

  constructor(
    bus: Bus,
    limits: BufferLimits,
    private readonly streamsPerTenant: number,
  ) {
    this.buffer = new EventBuffer(limits);
    this.off = bus.subscribe('tenant.event', (m) => {
      const entry = this.buffer.append(m.tenantId, m.event);
      for (const s of this.streams.get(m.tenantId) ?? []) if (matches(s.filter, entry.event)) s.sink.event(entry);
    });
  }

  open(tenantId: string, filter: EventFilter, lastEventId: string | undefined, sink: EventSink): OpenedStream {
    let set = this.streams.get(tenantId);
    if ((set?.size ?? 0) >= this.streamsPerTenant) {
      throw new AppError(
        ErrorCode.RESOURCE_EXHAUSTED,
        `This tenant already has ${set!.size} open event streams on this replica, the most it may have (ATTACHE_EVENT_STREAMS_PER_TENANT=${this.streamsPerTenant}). Close streams you no longer read, or share one stream per client; the operator can raise the limit.`,
        { limit: 'ATTACHE_EVENT_STREAMS_PER_TENANT', max: this.streamsPerTenant, current: set!.size, retryAfter: 5 },
      );
    }
    if (!set) this.streams.set(tenantId, (set = new Set()));
    const subscriber: Subscriber = { filter, sink };
    set.add(subscriber);
    const resumed = lastEventId === undefined ? null : this.buffer.since(tenantId, lastEventId);
    const owner = set;
    return {
      reset: resumed && !resumed.ok ? resumed.reason : null,
      replay: resumed?.ok ? resumed.events.filter((e) => matches(filter, e.event)) : [],
      close: () => {
        owner.delete(subscriber);
        if (owner.size === 0 && this.streams.get(tenantId) === owner) this.streams.delete(tenantId);
      },
    };
  }

  openStreams(tenantId: string): number {
    return this.streams.get(tenantId)?.size ?? 0;
  }

  /** Ends every stream; clients reconnect (to another replica, or this one once it is back). */
  close(): void {
    this.off();
    const all = [...this.streams.values()].flatMap((set) => [...set]);
    this.streams.clear();
    for (const s of all) s.sink.end('the control plane is shutting down; reconnect with Last-Event-ID');
  }
}
