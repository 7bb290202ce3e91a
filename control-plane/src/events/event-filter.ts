import { EVENT_TYPES, subjectsOf, type EventType, type TenantEvent } from './event-types.js';

/** Which events one stream wants: by type, and by the task, account or delegate they are about. */
export interface EventFilter {
  types: ReadonlySet<EventType>;
  taskId?: string | undefined;
  accountId?: string | undefined;
  delegateId?: string | undefined;
  /** Only task.state events of a task entering one of these states (e.g. only ends); other types pass. */
  states?: ReadonlySet<string> | undefined;
}

export const ALL_TYPES: ReadonlySet<EventType> = new Set(EVENT_TYPES);

/** An id filter passes only events about that id: a delegate filter drops account events, which name no delegate. */
export function matches(filter: EventFilter, event: TenantEvent): boolean {
  if (!filter.types.has(event.type)) return false;
  if (filter.states !== undefined && event.type === 'task.state' && !filter.states.has(event.task.state)) return false;
  const about = subjectsOf(event);
  if (filter.taskId !== undefined && about.taskId !== filter.taskId) return false;
  if (filter.accountId !== undefined && about.accountId !== filter.accountId) return false;
  if (filter.delegateId !== undefined && about.delegateId !== filter.delegateId) return false;
  return true;
}
