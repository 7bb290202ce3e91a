import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { AcceptQueue } from './accept-queue.js';

/** A socket as far as the queue sees one: resume, destroy, destroyed. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  resumed = false;
  constructor(readonly name: string) {
    super();
  }
  resume(): this {
    this.resumed = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

function harness(perTurn: number, maxWaiting = 100) {
  const turns: Array<() => void> = [];
  const handed: string[] = [];
  const queue = new AcceptQueue((s) => handed.push((s as unknown as FakeSocket).name), {
    perTurn,
    maxWaiting,
    schedule: (turn) => turns.push(turn),
  });
  const runTurn = () => turns.shift()!();
  const push = (name: string) => {
    const socket = new FakeSocket(name);
    queue.push(socket as unknown as Socket);
    return socket;
  };
  return { queue, turns, handed, runTurn, push };
}

describe('AcceptQueue', () => {
  it('hands sockets over in arrival order, at most perTurn per turn, resumed', () => {
    const h = harness(2);
    const sockets = ['a', 'b', 'c', 'd', 'e'].map(h.push);
    expect(h.handed).toEqual([]);
    expect(h.turns).toHaveLength(1);
    h.runTurn();
    expect(h.handed).toEqual(['a', 'b']);
    expect(sockets.filter((s) => s.resumed).map((s) => s.name)).toEqual(['a', 'b']);
    expect(h.queue.length).toBe(3);
    h.runTurn();
    h.runTurn();
    expect(h.handed).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(h.turns).toHaveLength(0);
    expect(h.queue.length).toBe(0);
  });

  it('schedules one turn however many sockets arrive before it runs', () => {
    const h = harness(10);
    for (let i = 0; i < 5; i++) h.push(`s${i}`);
    expect(h.turns).toHaveLength(1);
    h.runTurn();
    expect(h.turns).toHaveLength(0);
    h.push('late');
    expect(h.turns).toHaveLength(1);
  });

  it('skips a socket its client closed while it waited, without spending the turn on it', () => {
    const h = harness(2);
    h.push('a');
    h.push('gone').destroy();
    h.push('c');
    h.runTurn();
    expect(h.handed).toEqual(['a', 'c']);
  });

  it('closes a connection that finds the queue full and counts it', () => {
    const h = harness(1, 2);
    h.push('a');
    h.push('b');
    const over = h.push('c');
    expect(over.destroyed).toBe(true);
    expect(h.queue.refusedTotal).toBe(1);
    h.runTurn();
    h.runTurn();
    expect(h.handed).toEqual(['a', 'b']);
  });

  it('closes every waiting socket when cleared', () => {
    const h = harness(1);
    const sockets = ['a', 'b', 'c'].map(h.push);
    h.runTurn();
    h.queue.clear();
    expect(sockets.map((s) => s.destroyed)).toEqual([false, true, true]);
    expect(h.queue.length).toBe(0);
  });

  it('keeps order across compaction of a long queue', () => {
    const h = harness(700, 10_000);
    for (let i = 0; i < 3_000; i++) h.push(String(i));
    while (h.turns.length > 0) h.runTurn();
    expect(h.handed).toHaveLength(3_000);
    expect(h.handed.every((name, i) => name === String(i))).toBe(true);
  });

  it('refuses a perTurn or maxWaiting that is not a whole number ≥ 1', () => {
    expect(() => new AcceptQueue(() => {}, { perTurn: 0 })).toThrow(RangeError);
    expect(() => new AcceptQueue(() => {}, { maxWaiting: 1.5 })).toThrow(RangeError);
  });
});
