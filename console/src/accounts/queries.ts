import { useQuery } from '@tanstack/react-query';
import { api, unwrap } from '../api/client.js';

export const accountKeys = {
  all: ['accounts'] as const,
  one: (id: string) => ['accounts', id] as const,
};
export const taskKey = (id: string) => ['tasks', id] as const;

export function useAccount(id: string | undefined, refetchInterval: number | false = false) {
  return useQuery({
    queryKey: accountKeys.one(id ?? ''),
    queryFn: () => unwrap(api.GET('/v1/aws/accounts/{id}', { params: { path: { id: id! } } })),
    enabled: id !== undefined,
    refetchInterval,
  });
}

export const TERMINAL_STATES = new Set(['succeeded', 'failed', 'cancelled', 'expired']);

export function useTask(id: string | undefined, refetchInterval: number | false) {
  return useQuery({
    queryKey: taskKey(id ?? ''),
    queryFn: () => unwrap(api.GET('/v1/tasks/{id}', { params: { path: { id: id! } } })),
    enabled: id !== undefined,
    // Polls (when the stream is not open) until the task ends.
    refetchInterval: (q) => (q.state.data && TERMINAL_STATES.has(q.state.data.state) ? false : refetchInterval),
  });
}
