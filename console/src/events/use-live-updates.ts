import { useQueryClient, type QueryKey } from '@tanstack/react-query';
import { useEffect, useState } from 'react';

export type EventType = 'task.state' | 'account.validated' | 'delegate.presence';

/** How often a list refetches while the event stream is not open (not deployed yet, reconnecting). */
export const FALLBACK_REFETCH_MS = 1_000;

export interface LiveOptions {
  types: readonly EventType[];
  taskId?: string | undefined;
  accountId?: string | undefined;
  /** Queries to refetch when an event (or `reset`) arrives. */
  invalidate: readonly QueryKey[];
  enabled?: boolean;
}

/**
 * Keeps queries fresh from the tenant's event stream (GET /v1/events, server-sent events, the
 * session cookie): every event, and `reset` (the server lost track), refetches the named queries.
 * Returns whether the stream is open; while it is not, callers poll with FALLBACK_REFETCH_MS, so a
 * page stays live against a control plane without the stream, or while it reconnects.
 */
export function useLiveUpdates({ types, taskId, accountId, invalidate, enabled = true }: LiveOptions): { streaming: boolean; refetchInterval: number | false } {
  const queryClient = useQueryClient();
  const [streaming, setStreaming] = useState(false);
  const keys = JSON.stringify(invalidate);
  const typeList = types.join(',');

  useEffect(() => {
    if (!enabled || typeof EventSource === 'undefined') return;
    const query = new URLSearchParams({ types: typeList });
    if (taskId) query.set('taskId', taskId);
    if (accountId) query.set('accountId', accountId);
    const source = new EventSource(`/v1/events?${query}`, { withCredentials: true });
    const refetch = () => {
      for (const key of JSON.parse(keys) as QueryKey[]) void queryClient.invalidateQueries({ queryKey: key });
    };
    source.onopen = () => {
      setStreaming(true);
      // Whatever happened while the stream was closed is read once.
      refetch();
    };
    source.onerror = () => setStreaming(false);
    for (const type of [...typeList.split(','), 'reset']) source.addEventListener(type, refetch);
    return () => {
      source.close();
      setStreaming(false);
    };
  }, [enabled, typeList, taskId, accountId, keys, queryClient]);

  return { streaming, refetchInterval: streaming ? false : FALLBACK_REFETCH_MS };
}
