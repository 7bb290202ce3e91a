import { describe, expect, it } from 'vitest';
import { AppError } from '../../errors.js';
import { parseInput } from '../parse.js';
import { eventsQuery } from './events.js';
import { createTaskBatch, parseBatchItem } from './tasks.js';

describe('GET /v1/events query', () => {
  it('splits the type list, keeps the id filters and the query cursor', () => {
    expect(parseInput(eventsQuery, { types: 'task.state, delegate.presence', taskId: 'tsk_1', lastEventId: 'e-1' }, 'query')).toEqual({
      types: ['task.state', 'delegate.presence'],
      taskId: 'tsk_1',
      lastEventId: 'e-1',
    });
    expect(parseInput(eventsQuery, {}, 'query').types).toBeUndefined();
    expect(parseInput(eventsQuery, { types: '' }, 'query').types).toBeUndefined();
  });

  it('refuses unknown types and parameters with VALIDATION_FAILED naming them', () => {
    expect(() => parseInput(eventsQuery, { types: 'task.state,task.exploded' }, 'query')).toThrow(/unknown event type "task.exploded"/);
    try {
      parseInput(eventsQuery, { since: 'yesterday' }, 'query');
      expect.unreachable();
    } catch (err) {
      expect((err as AppError).code).toBe('VALIDATION_FAILED');
    }
  });
});

describe('POST /v1/tasks/batch items', () => {
  it('parses each item as POST /v1/tasks parses its body, with the item index in the error', () => {
    expect(parseBatchItem({ type: 'echo', payload: { message: 'x' } }, 0)).toEqual({ type: 'echo', payload: { message: 'x' }, selectors: [] });
    const bad = parseBatchItem({ type: 'echo', selectors: ['UPPER'] }, 7);
    expect(bad).toBeInstanceOf(AppError);
    expect((bad as AppError).code).toBe('VALIDATION_FAILED');
    expect((bad as AppError).message).toMatch(/^Invalid tasks\.7: selectors\.0: /);
  });

  it('limits each item to the size of a single request body', () => {
    const big = parseBatchItem({ type: 'echo', payload: { message: 'y'.repeat(70_000) } }, 3);
    expect((big as AppError).code).toBe('PAYLOAD_TOO_LARGE');
    expect((big as AppError).status).toBe(413);
    expect((big as AppError).details).toMatchObject({ index: 3, limit: 65_536 });
  });

  it('takes atomic as a boolean, false by default', () => {
    expect(parseInput(createTaskBatch, { tasks: [{}] }, 'batch').atomic).toBe(false);
    expect(() => parseInput(createTaskBatch, { tasks: [{}], atomic: 'yes' }, 'batch')).toThrow(AppError);
    expect(() => parseInput(createTaskBatch, { tasks: [] }, 'batch')).toThrow(AppError);
  });
});
