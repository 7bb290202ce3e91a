import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../bus/memory-bus.js';
import { AppError } from '../errors.js';
import type { BufferedEvent } from './event-buffer.js';
import { ALL_TYPES, matches } from './event-filter.js';
import { EventHub } from './event-hub.js';
import { delegatePresence, type TenantEvent } from './event-types.js';
import { sseComment, sseEvent } from './sse.js';

const presence = (id: string) => delegatePresence('t1', { id, name: 'east' }, 'connected');
const settle = () => new Promise((r) => setTimeout(r, 10));

function sink() {
  const got: BufferedEvent[] = [];
  const ended: string[] = [];
  return { got, ended, sink: { event: (e: BufferedEvent) => got.push(e), end: (why: string) => ended.push(why) } };
}

describe('EventHub', () => {
  const bus = new MemoryBus();
  let hub: EventHub;
  afterEach(() => hub?.close());

  it('delivers a tenant\'s bus events to its streams only, and resumes after a cursor without a gap', async () => {
    hub = new EventHub(bus, { size: 100, maxAgeMs: 60_000 }, 5);
    const mine = sink();
    const theirs = sink();
    hub.open('t1', { types: ALL_TYPES }, undefined, mine.sink);
    hub.open('t2', { types: ALL_TYPES }, undefined, theirs.sink);
    await bus.publish('tenant.event', presence('dlg_a'));
    await bus.publish('tenant.event', presence('dlg_b'));
    await settle();
    expect(mine.got.map((e) => (e.event as { delegate: { id: string } }).delegate.id)).toEqual(['dlg_a', 'dlg_b']);
    expect(theirs.got).toEqual([]);

    const later = sink();
    const resumed = hub.open('t1', { types: ALL_TYPES }, mine.got[0]!.id, later.sink);
    expect(resumed.reset).toBeNull();
    expect(resumed.replay).toEqual([mine.got[1]]);
    const lost = hub.open('t1', { types: ALL_TYPES }, 'elsewhere-1', sink().sink);
    expect(lost.reset).toBe('unknown-cursor');
    expect(lost.replay).toEqual([]);
  });

  it('refuses a stream past the per-tenant cap with RESOURCE_EXHAUSTED, and counts closed ones out', () => {
    hub = new EventHub(bus, { size: 10, maxAgeMs: 60_000 }, 2);
    const first = hub.open('t1', { types: ALL_TYPES }, undefined, sink().sink);
    hub.open('t1', { types: ALL_TYPES }, undefined, sink().sink);
    expect(() => hub.open('t1', { types: ALL_TYPES }, undefined, sink().sink)).toThrow(AppError);
    try {
      hub.open('t1', { types: ALL_TYPES }, undefined, sink().sink);
    } catch (err) {
      expect((err as AppError).code).toBe('RESOURCE_EXHAUSTED');
      expect((err as AppError).status).toBe(429);
    }
    // Another tenant has its own cap.
    hub.open('t2', { types: ALL_TYPES }, undefined, sink().sink);
    first.close();
    expect(hub.openStreams('t1')).toBe(1);
    hub.open('t1', { types: ALL_TYPES }, undefined, sink().sink);
  });

  it('ends every stream when it closes', () => {
    hub = new EventHub(bus, { size: 10, maxAgeMs: 60_000 }, 2);
    const s = sink();
    hub.open('t1', { types: ALL_TYPES }, undefined, s.sink);
    hub.close();
    expect(s.ended).toHaveLength(1);
  });
});

describe('event filters', () => {
  const task = (over: Record<string, unknown> = {}): TenantEvent =>
    ({ type: 'task.state', at: '2026-01-01T00:00:00.000Z', task: { id: 'tsk_1', accountId: 'acc_1', delegate: { id: 'dlg_1', name: 'east' }, ...over } }) as never;

  it('match by type and by the ids an event is about', () => {
    expect(matches({ types: new Set(['task.state']) }, task())).toBe(true);
    expect(matches({ types: new Set(['delegate.presence']) }, task())).toBe(false);
    expect(matches({ types: ALL_TYPES, taskId: 'tsk_1' }, task())).toBe(true);
    expect(matches({ types: ALL_TYPES, taskId: 'tsk_2' }, task())).toBe(false);
    expect(matches({ types: ALL_TYPES, delegateId: 'dlg_1' }, task())).toBe(true);
    expect(matches({ types: ALL_TYPES, delegateId: 'dlg_1' }, task({ delegate: null }))).toBe(false);
    expect(matches({ types: ALL_TYPES, accountId: 'acc_1' }, task())).toBe(true);
    expect(matches({ types: ALL_TYPES, delegateId: 'dlg_1' }, presence('dlg_1').event)).toBe(true);
    expect(matches({ types: ALL_TYPES, taskId: 'tsk_1' }, presence('dlg_1').event)).toBe(false);
    const validated: TenantEvent = { type: 'account.validated', at: '2026-01-01T00:00:00.000Z', account: { id: 'acc_1', name: 'prod', status: 'valid', taskId: 'tsk_1' } };
    expect(matches({ types: ALL_TYPES, taskId: 'tsk_1', accountId: 'acc_1' }, validated)).toBe(true);
  });
});

describe('SSE framing', () => {
  it('writes id, event and one data line, and comments on one line', () => {
    expect(sseEvent('e-1', 'task.state', { a: 'x\ny' })).toBe('id: e-1\nevent: task.state\ndata: {"a":"x\\ny"}\n\n');
    expect(sseEvent(null, 'reset', { type: 'reset' })).toBe('event: reset\ndata: {"type":"reset"}\n\n');
    expect(sseComment('closed:\nnow')).toBe(': closed: now\n\n');
  });
});
