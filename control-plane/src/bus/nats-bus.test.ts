import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { startNats, type NatsHandle } from '../../../e2e/src/support/nats.js';
import { connectNats } from '../nats/connect.js';
import { runBusConformance } from './bus.conformance.js';
import type { BusEvents } from './bus.js';
import { NatsBus } from './nats-bus.js';

const log = pino({ level: 'silent' });
let nats: NatsHandle;
const opened: NatsBus[] = [];

async function openBus(prefix = 'attache.bus'): Promise<NatsBus> {
  const bus = new NatsBus(await connectNats({ servers: [nats.url], name: 'test', log }), { prefix, log });
  opened.push(bus);
  return bus;
}

beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  for (const bus of opened) await bus.close();
  await nats.stop();
});

// Each run gets its own prefix: the conformance suite's buses must not hear one another.
let run = 0;
runBusConformance('nats', () => openBus(`attache.test${++run}.bus`));

describe('NatsBus between replicas', () => {
  const ended = (taskId: string): BusEvents['task.ended'] => ({ tenantId: 't1', taskId, state: 'succeeded' });

  it('delivers each replica’s messages to the other, and only on the same prefix', async () => {
    const a = await openBus('attache.x.bus');
    const b = await openBus('attache.x.bus');
    const other = await openBus('attache.y.bus');
    const atA: string[] = [];
    const atB: string[] = [];
    const atOther: string[] = [];
    a.subscribe('task.ended', (m) => atA.push(m.taskId));
    b.subscribe('task.ended', (m) => atB.push(m.taskId));
    other.subscribe('task.ended', (m) => atOther.push(m.taskId));
    await Promise.all([a.flush(), b.flush(), other.flush()]);
    await a.publish('task.ended', ended('from-a'));
    await b.publish('task.ended', ended('from-b'));
    await until(() => atA.length === 2 && atB.length === 2);
    expect(atA.sort()).toEqual(['from-a', 'from-b']);
    expect(atB.sort()).toEqual(['from-a', 'from-b']);
    expect(atOther).toEqual([]);
    expect(a.health.check()).toBe('ok');
  });

  it('rides out a nats-server restart: health goes down, then messages flow again', async () => {
    const a = await openBus('attache.r.bus');
    const b = await openBus('attache.r.bus');
    const atB: string[] = [];
    b.subscribe('task.queued', (m) => atB.push(m.taskId));
    await b.flush();
    await a.publish('task.queued', { tenantId: 't', taskId: 'before', type: 'echo', selectors: [] });
    await until(() => atB.includes('before'));

    const restarted = nats.restart();
    await until(() => a.health.check() !== 'ok', 10_000);
    await restarted;
    await until(() => a.health.check() === 'ok' && b.health.check() === 'ok', 15_000);
    // Both replicas resubscribed on reconnect; keep publishing until the first message lands.
    await until(async () => {
      await a.publish('task.queued', { tenantId: 't', taskId: 'after', type: 'echo', selectors: [] });
      return atB.includes('after');
    }, 15_000);
  });
});

async function until(check: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}
