import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Bus } from './bus.js';

/** Behaviour every Bus implementation (in-process, NATS) must show. */
export function runBusConformance(name: string, open: () => Promise<Bus>): void {
  describe(`Bus conformance: ${name}`, () => {
    let bus: Bus;
    beforeEach(async () => {
      bus = await open();
    });
    afterEach(async () => {
      await bus.close();
    });

    const next = <T>(subscribe: (resolve: (v: T) => void) => void): Promise<T> =>
      new Promise<T>((resolve) => subscribe(resolve));

    it('delivers a published message to every subscriber of the topic', async () => {
      const a = next<unknown>((r) => bus.subscribe('task.ended', r));
      const b = next<unknown>((r) => bus.subscribe('task.ended', r));
      const msg = { tenantId: 't1', taskId: 'x', state: 'succeeded' };
      await bus.publish('task.ended', msg);
      expect(await a).toEqual(msg);
      expect(await b).toEqual(msg);
    });

    it('does not deliver to other topics or after unsubscribe', async () => {
      const seen: string[] = [];
      const off = bus.subscribe('token.revoked', (m) => seen.push(`revoked:${m.tokenId}`));
      bus.subscribe('task.queued', (m) => seen.push(`queued:${m.taskId}`));
      const done = next<unknown>((r) => bus.subscribe('task.queued', r));
      off();
      await bus.publish('token.revoked', { tenantId: 't', tokenId: 'k' });
      await bus.publish('task.queued', { tenantId: 't', taskId: 'q', type: 'echo', selectors: [] });
      await done;
      await new Promise((r) => setTimeout(r, 50));
      expect(seen).toEqual(['queued:q']);
    });

    it('keeps order of messages from one publisher on one topic', async () => {
      const got: string[] = [];
      const all = new Promise<void>((resolve) =>
        bus.subscribe('task.cancel', (m) => {
          got.push(m.taskId);
          if (got.length === 20) resolve();
        }),
      );
      for (let i = 0; i < 20; i++) {
        await bus.publish('task.cancel', { tenantId: 't', taskId: String(i), attempt: 1, delegateId: 'd', reason: 'r' });
      }
      await all;
      expect(got).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    });

    it('carries a tenant event whole (nested JSON), in the order one publisher sent it', async () => {
      const got: unknown[] = [];
      const all = new Promise<void>((resolve) =>
        bus.subscribe('tenant.event', (m) => {
          got.push(m);
          if (got.length === 3) resolve();
        }),
      );
      const presence = (i: number) => ({
        tenantId: 't1',
        event: {
          type: 'delegate.presence' as const,
          at: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
          delegate: { id: `dlg_${i}`, name: 'east', group: 'east', status: i === 2 ? ('disconnected' as const) : ('connected' as const) },
        },
      });
      for (let i = 0; i < 3; i++) await bus.publish('tenant.event', presence(i));
      await all;
      expect(got).toEqual([presence(0), presence(1), presence(2)]);
    });
  });
}
