import { describe, expect, it } from 'vitest';
import { SessionTransitionError } from './session.js';
import { session } from './test-support.js';

describe('DelegateSession state', () => {
  it('starts registering, with no slot offered before Welcome', () => {
    const { session: s } = session();
    expect(s.state).toBe('registering');
    expect(s.free).toBe(0);
    expect(s.reserve()).toBe(false);
    expect(s.status).toBe('connected');
  });

  it('accepts the moves a session makes: registering → connected → draining → closed', () => {
    const { session: s } = session();
    const seen: string[] = [];
    s.onTransition((_s, from, to) => seen.push(`${from}>${to}`));
    expect(s.transition('registering', 'connected')).toBe(true);
    expect(s.free).toBe(2);
    expect(s.transition('connected', 'draining')).toBe(true);
    expect(s.free).toBe(0);
    expect(s.status).toBe('draining');
    expect(s.end()).toBe(true);
    expect(s.closed).toBe(true);
    expect(seen).toEqual(['registering>connected', 'connected>draining', 'draining>closed']);
  });

  it('refuses a move from a state the session is no longer in, without changing it', () => {
    const { session: s } = session();
    s.transition('registering', 'connected');
    s.end();
    expect(s.transition('connected', 'draining')).toBe(false);
    expect(s.state).toBe('closed');
    expect(s.end()).toBe(false);
  });

  it('throws on a move no session makes', () => {
    const { session: s } = session();
    expect(() => s.transition('registering', 'draining')).toThrow(SessionTransitionError);
    expect(() => s.transition('closed', 'connected')).toThrow(/cannot move from closed to connected/);
    expect(() => s.transition('draining', 'connected')).toThrow(SessionTransitionError);
    expect(s.state).toBe('registering');
  });

  it('counts reserved claims and held tasks against max concurrency', () => {
    const { session: s } = session({ maxConcurrency: 2 });
    s.transition('registering', 'connected');
    expect(s.reserve()).toBe(true);
    s.held.set('tsk_1', { attempt: 1, type: 'echo', accepted: false, ackTimer: null });
    expect(s.free).toBe(0);
    expect(s.reserve()).toBe(false);
    s.unreserve();
    expect(s.free).toBe(1);
    expect(s.holds('tsk_1', 1)).toBe(true);
    expect(s.holds('tsk_1', 2)).toBe(false);
  });
});
