import { describe, expect, it } from 'vitest';
import { EventBuffer } from './event-buffer.js';
import { delegatePresence, type TenantEvent } from './event-types.js';

const ev = (n: number): TenantEvent => delegatePresence('t', { id: `dlg_${n}`, name: 'east' }, 'connected').event;

describe('EventBuffer', () => {
  it('replays exactly the events after a cursor, per tenant', () => {
    const buffer = new EventBuffer({ size: 100, maxAgeMs: 60_000 });
    const a = [1, 2, 3].map((n) => buffer.append('a', ev(n)));
    buffer.append('b', ev(9));
    const resumed = buffer.since('a', a[0]!.id);
    expect(resumed).toEqual({ ok: true, events: [a[1], a[2]] });
    expect(buffer.since('a', a[2]!.id)).toEqual({ ok: true, events: [] });
    // Another tenant's cursor space: b's first id is not a's.
    expect(buffer.since('b', a[2]!.id)).toEqual({ ok: false, reason: 'unknown-cursor' });
  });

  it('answers a reset for a cursor of another epoch (replica or restart), or garbage', () => {
    const one = new EventBuffer({ size: 10, maxAgeMs: 60_000 });
    const other = new EventBuffer({ size: 10, maxAgeMs: 60_000 });
    const e = one.append('a', ev(1));
    other.append('a', ev(1));
    expect(other.since('a', e.id)).toEqual({ ok: false, reason: 'unknown-cursor' });
    expect(one.since('a', 'nonsense')).toEqual({ ok: false, reason: 'unknown-cursor' });
    expect(one.since('a', `${one.epoch}-zz`)).toEqual({ ok: false, reason: 'unknown-cursor' });
  });

  it('drops events past its size and age, and says so instead of replaying with a gap', () => {
    let now = 1_000;
    const buffer = new EventBuffer({ size: 3, maxAgeMs: 10_000 }, () => now);
    const e = [1, 2, 3, 4, 5].map((n) => buffer.append('a', ev(n)));
    // 1 and 2 fell out: a cursor at 1 would miss 2; a cursor at 2 misses nothing.
    expect(buffer.since('a', e[0]!.id)).toEqual({ ok: false, reason: 'expired' });
    expect(buffer.since('a', e[1]!.id)).toEqual({ ok: true, events: [e[2], e[3], e[4]] });
    now += 10_001;
    expect(buffer.since('a', e[3]!.id)).toEqual({ ok: false, reason: 'expired' });
    expect(buffer.since('a', e[4]!.id)).toEqual({ ok: true, events: [] });
  });

  it('keeps nothing with size 0: every resume is a reset', () => {
    const buffer = new EventBuffer({ size: 0, maxAgeMs: 10_000 });
    const first = buffer.append('a', ev(1));
    buffer.append('a', ev(2));
    expect(buffer.since('a', first.id)).toEqual({ ok: false, reason: 'expired' });
  });
});
