import { describe, expect, it } from 'vitest';
import { FrameQueue } from './frame-queue.js';

async function readAll<T>(queue: FrameQueue<T>): Promise<{ items: T[]; error?: unknown }> {
  const items: T[] = [];
  try {
    for await (const item of queue) items.push(item);
    return { items };
  } catch (error) {
    return { items, error };
  }
}

describe('FrameQueue', () => {
  it('hands frames to the reader in order, including those pushed while it waits', async () => {
    const queue = new FrameQueue<number>();
    queue.push(1);
    const reading = readAll(queue);
    await new Promise((r) => setTimeout(r, 5));
    queue.push(2);
    queue.push(3);
    queue.end();
    expect(await reading).toEqual({ items: [1, 2, 3] });
  });

  it('delivers the frames pushed before a failure, then throws that failure', async () => {
    const queue = new FrameQueue<string>();
    queue.push('welcome');
    const failure = new Error('socket reset');
    queue.end(failure);
    expect(await readAll(queue)).toEqual({ items: ['welcome'], error: failure });
  });

  it('keeps the first end: a later failure is a consequence, and frames after the end are dropped', async () => {
    const queue = new FrameQueue<string>();
    const first = new Error('refused');
    queue.end(first);
    queue.end(new Error('closed'));
    expect(queue.push('late')).toBe(false);
    expect(queue.failure).toBe(first);
    expect(await readAll(queue)).toEqual({ items: [], error: first });
  });

  it('ends a waiting reader cleanly when closed without a failure', async () => {
    const queue = new FrameQueue<number>();
    const reading = readAll(queue);
    await new Promise((r) => setTimeout(r, 5));
    queue.end();
    expect(await reading).toEqual({ items: [] });
  });

  it('asks the source to pause at the high-water mark and to resume once the reader has caught up', async () => {
    const calls: string[] = [];
    const queue = new FrameQueue<number>({ highWaterMark: 3, pause: () => calls.push('pause'), resume: () => calls.push('resume') });
    queue.push(1);
    queue.push(2);
    expect(calls).toEqual([]);
    queue.push(3);
    queue.push(4);
    expect(calls).toEqual(['pause']);
    expect(queue.size).toBe(4);

    const iterator = queue[Symbol.asyncIterator]();
    for (const expected of [1, 2, 3]) expect((await iterator.next()).value).toBe(expected);
    expect(calls).toEqual(['pause']);
    expect((await iterator.next()).value).toBe(4);
    expect(calls).toEqual(['pause', 'resume']);

    // A second crossing pauses again.
    for (const n of [5, 6, 7]) queue.push(n);
    expect(calls).toEqual(['pause', 'resume', 'pause']);
  });

  it('does not resume a source whose connection has ended', async () => {
    const calls: string[] = [];
    const queue = new FrameQueue<number>({ highWaterMark: 1, pause: () => calls.push('pause'), resume: () => calls.push('resume') });
    queue.push(1);
    queue.end();
    expect(await readAll(queue)).toEqual({ items: [1] });
    expect(calls).toEqual(['pause']);
  });
});
