import { z } from 'zod';
import { DELEGATE_STATUSES, taskViewSchema, type TaskView } from '../api/views.js';

/**
 * What GET /v1/events carries: one tenant's task state changes, account validations and delegate
 * presence. The shapes are a public contract (the console and the CLI read them); each event is one
 * JSON line in an SSE `data:` field, its `type` repeated as the SSE `event:` name.
 */
export const EVENT_TYPES = ['task.state', 'account.validated', 'delegate.presence'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

const at = z.iso.datetime();

export const taskStateEventSchema = z
  .object({ type: z.literal('task.state'), at, task: taskViewSchema })
  .meta({ id: 'TaskStateEvent', description: 'A task entered a state; `task` is the view GET /v1/tasks/{id} answers.' });

export const accountValidatedEventSchema = z
  .object({
    type: z.literal('account.validated'),
    at,
    account: z.object({
      id: z.string(),
      name: z.string().nullable(),
      status: z.enum(['valid', 'invalid']),
      awsAccountId: z.string().optional(),
      taskId: z.string(),
      error: z.object({ code: z.string(), message: z.string() }).optional(),
    }),
  })
  .meta({ id: 'AccountValidatedEvent', description: 'A validation of an AWS account ended and was recorded on the account.' });

export const delegatePresenceEventSchema = z
  .object({
    type: z.literal('delegate.presence'),
    at,
    delegate: z.object({ id: z.string(), name: z.string(), group: z.string().optional(), status: z.enum(DELEGATE_STATUSES) }),
  })
  .meta({ id: 'DelegatePresenceEvent', description: 'A delegate connected, started draining or disconnected.' });

export const resetEventSchema = z
  .object({ type: z.literal('reset'), reason: z.string() })
  .meta({ id: 'ResetEvent', description: 'Events after the given Last-Event-ID are no longer held: refetch the lists, then follow the live events.' });

export type TaskStateEvent = { type: 'task.state'; at: string; task: TaskView };
export type AccountValidatedEvent = z.output<typeof accountValidatedEventSchema>;
export type DelegatePresenceEvent = z.output<typeof delegatePresenceEventSchema>;
export type TenantEvent = TaskStateEvent | AccountValidatedEvent | DelegatePresenceEvent;
export type PresenceStatus = DelegatePresenceEvent['delegate']['status'];

/** The ids an event is about, for the stream's `taskId`, `accountId` and `delegateId` filters. */
export function subjectsOf(event: TenantEvent): { taskId?: string; accountId?: string; delegateId?: string } {
  switch (event.type) {
    case 'task.state':
      return {
        taskId: event.task.id,
        ...(event.task.accountId ? { accountId: event.task.accountId } : {}),
        ...(event.task.delegate ? { delegateId: event.task.delegate.id } : {}),
      };
    case 'account.validated':
      return { accountId: event.account.id, taskId: event.account.taskId };
    case 'delegate.presence':
      return { delegateId: event.delegate.id };
  }
}

/** A delegate's presence change, as the dispatcher announces it on the bus. */
export function delegatePresence(
  tenantId: string,
  delegate: { id: string; name: string },
  status: PresenceStatus,
): { tenantId: string; event: DelegatePresenceEvent } {
  // Delegates that share a name form one group (a gateway), which is also the tag tasks pin to.
  return { tenantId, event: { type: 'delegate.presence', at: new Date().toISOString(), delegate: { id: delegate.id, name: delegate.name, group: delegate.name, status } } };
}
