import { afterEach, describe, expect, it } from 'vitest';
import { MemoryBus } from '../bus/memory-bus.js';
import { queuedTask } from '../delegates/test-support.js';
import { TaskWaiters } from './waiters.js';

describe('TaskWaiters', () => {
  const bus = new MemoryBus();
  let waiters: TaskWaiters | undefined;
  afterEach(() => waiters?.close());

  it('hands a waiter the ended task itself when it ended on this replica', async () => {
    waiters = new TaskWaiters(bus);
    const ended = queuedTask('ten_a', 'tsk_local', { state: 'succeeded', result: { ok: true } });
    const waiting = waiters.wait('tsk_local', 5_000, async () => false);
    waiters.ended(ended);
    await expect(waiting).resolves.toBe(ended);
  });

  it('wakes a waiter without a task when the end arrives on the bus from another replica', async () => {
    waiters = new TaskWaiters(bus);
    const waiting = waiters.wait('tsk_remote', 5_000, async () => false);
    await bus.publish('task.ended', { tenantId: 'ten_a', taskId: 'tsk_remote', state: 'succeeded' });
    await expect(waiting).resolves.toBeUndefined();
  });

  it('answers at once when the check finds the task already ended, and wakes only the waiters of that task', async () => {
    waiters = new TaskWaiters(bus);
    await expect(waiters.wait('tsk_done', 5_000, async () => true)).resolves.toBeUndefined();
    let other = 'waiting';
    void waiters.wait('tsk_other', 200, async () => false).then(() => (other = 'woken'));
    waiters.ended(queuedTask('ten_a', 'tsk_done', { state: 'failed' }));
    await new Promise((r) => setTimeout(r, 20));
    expect(other).toBe('waiting');
  });

  it('gives up after the wait without a task', async () => {
    waiters = new TaskWaiters(bus);
    const t0 = Date.now();
    await expect(waiters.wait('tsk_slow', 50, async () => false)).resolves.toBeUndefined();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
  });
});
