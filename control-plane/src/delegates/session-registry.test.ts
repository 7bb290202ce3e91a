import { GoodbyeCode } from '@attache/proto';
import { describe, expect, it } from 'vitest';
import { SessionRegistry } from './session-registry.js';
import { FakeConnection, session } from './test-support.js';

const bye = { code: GoodbyeCode.TOKEN_REVOKED, message: 'revoked' };

describe('SessionRegistry', () => {
  it("closes every connection of a token, in the handshake or registered, and none of another token's", () => {
    const registry = new SessionRegistry();
    const inHandshake = new FakeConnection('a');
    const registered = new FakeConnection('a');
    const other = new FakeConnection('b');
    registry.track(inHandshake, { tokenId: 'tok_a', tenantId: 'ten_1' });
    registry.track(registered, { tokenId: 'tok_a', tenantId: 'ten_1' });
    registry.track(other, { tokenId: 'tok_b', tenantId: 'ten_1' });
    registry.add(session({ id: 'dlg_a' }, registered).session);
    expect(registry.closeToken('tok_a', bye)).toBe(2);
    expect(inHandshake.closedWith).toEqual(bye);
    expect(registered.closedWith).toEqual(bye);
    expect(other.isClosed).toBe(false);
    // Closed connections leave the index: closing again finds none.
    expect(registry.closeToken('tok_a', bye)).toBe(0);
  });

  it("closes every connection of a tenant", () => {
    const registry = new SessionRegistry();
    const a = new FakeConnection('a');
    const b = new FakeConnection('b');
    registry.track(a, { tokenId: 'tok_a', tenantId: 'ten_1' });
    registry.track(b, { tokenId: 'tok_b', tenantId: 'ten_2' });
    expect(registry.closeTenant('ten_1', { code: GoodbyeCode.TENANT_SUSPENDED, message: 's' })).toBe(1);
    expect(a.isClosed && !b.isClosed).toBe(true);
  });

  it('finds sessions by id and tenant, and a newer session of the same delegate replaces the older', () => {
    const registry = new SessionRegistry();
    const first = session({ id: 'dlg_a' }).session;
    const second = session({ id: 'dlg_a' }).session;
    const elsewhere = session({ id: 'dlg_b', tenantId: 'ten_other' }).session;
    expect(registry.add(first)).toBeUndefined();
    registry.add(elsewhere);
    expect(registry.add(second)).toBe(first);
    expect(registry.get('dlg_a')).toBe(second);
    expect(registry.local('ten_acme')).toEqual([second]);
    expect(registry.local()).toHaveLength(2);
    // The replaced one is no longer current: removing it leaves the newer in place.
    expect(registry.remove(first)).toBe(false);
    expect(registry.remove(second)).toBe(true);
    expect(registry.get('dlg_a')).toBeUndefined();
    expect(registry.local('ten_acme')).toEqual([]);
  });

  it('answers the narrow questions other parts ask without handing out sessions', () => {
    const registry = new SessionRegistry();
    const s = session({ id: 'dlg_a' }).session;
    registry.add(s);
    s.transition('registering', 'connected');
    s.held.set('tsk_1', { attempt: 2, type: 'echo', accepted: true, ackTimer: null });
    expect(registry.holdsAttempt('dlg_a', 'tsk_1', 2)).toBe(true);
    expect(registry.holdsAttempt('dlg_a', 'tsk_1', 1)).toBe(false);
    expect(registry.holdsAttempt('dlg_z', 'tsk_1', 2)).toBe(false);
    expect(registry.live('dlg_a')).toMatchObject({ status: 'connected', inFlight: 1 });
    expect(registry.localViews('ten_acme').map((v) => v.id)).toEqual(['dlg_a']);
    expect(registry.liveView('dlg_z')).toBeUndefined();
  });

  it('reports every move of a registered session to its change listeners (the presence-event hook)', () => {
    const registry = new SessionRegistry();
    const changes: string[] = [];
    registry.onChange((s, from, to) => changes.push(`${s.id}:${from}>${to}`));
    const s = session({ id: 'dlg_a' }).session;
    registry.add(s);
    s.transition('registering', 'connected');
    s.transition('connected', 'draining');
    s.end();
    expect(changes).toEqual(['dlg_a:registering>connected', 'dlg_a:connected>draining', 'dlg_a:draining>closed']);
  });
});
