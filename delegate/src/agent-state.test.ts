import { describe, expect, it } from 'vitest';
import { AgentStateMachine, type AgentState } from './agent-state.js';

function machineIn(...path: Array<Exclude<AgentState, 'stopped'>>) {
  const moves: Array<[AgentState, AgentState]> = [];
  const machine = new AgentStateMachine((next, previous) => moves.push([previous, next]));
  for (const state of path) expect(machine.moveTo(state)).toBe(true);
  moves.length = 0;
  return { machine, moves };
}

describe('AgentStateMachine', () => {
  it('follows the life of a delegate and reports each move', () => {
    const { machine, moves } = machineIn();
    expect(machine.state).toBe('idle');
    expect(machine.moveTo('connecting')).toBe(true);
    expect(machine.moveTo('registered')).toBe(true);
    expect(machine.moveTo('reconnecting')).toBe(true);
    expect(machine.moveTo('registered')).toBe(true);
    expect(machine.moveTo('draining')).toBe(true);
    expect(machine.moveTo('stopping')).toBe(true);
    expect(machine.stop({ reason: 'drained' })).toBe(true);
    expect(moves).toEqual([
      ['idle', 'connecting'],
      ['connecting', 'registered'],
      ['registered', 'reconnecting'],
      ['reconnecting', 'registered'],
      ['registered', 'draining'],
      ['draining', 'stopping'],
      ['stopping', 'stopped'],
    ]);
    expect(machine.stopInfo).toEqual({ reason: 'drained' });
  });

  it('refuses a Welcome turning a draining agent back into a registered one, and reconnecting while draining', () => {
    const { machine, moves } = machineIn('connecting', 'registered', 'draining');
    expect(machine.moveTo('registered')).toBe(false);
    expect(machine.moveTo('reconnecting')).toBe(false);
    expect(machine.state).toBe('draining');
    expect(moves).toEqual([]);
  });

  it('refuses to start twice or to go back to idle', () => {
    const { machine } = machineIn('connecting');
    expect(machine.moveTo('connecting')).toBe(false);
    expect(machine.moveTo('idle')).toBe(false);
    expect(machine.state).toBe('connecting');
  });

  it('lets nothing leave stopped, and keeps the first stop reason', () => {
    const { machine, moves } = machineIn('connecting');
    expect(machine.stop({ reason: 'fatal', code: 'TOKEN_REVOKED' })).toBe(true);
    expect(machine.stop({ reason: 'stopped' })).toBe(false);
    for (const state of ['idle', 'connecting', 'registered', 'reconnecting', 'draining', 'stopping'] as const) {
      expect(machine.moveTo(state)).toBe(false);
    }
    expect(machine.state).toBe('stopped');
    expect(machine.stopInfo).toEqual({ reason: 'fatal', code: 'TOKEN_REVOKED' });
    expect(moves).toEqual([['connecting', 'stopped']]);
  });

  it('from stopping allows only stopped', () => {
    const { machine } = machineIn('connecting', 'stopping');
    for (const state of ['connecting', 'registered', 'reconnecting', 'draining'] as const) expect(machine.moveTo(state)).toBe(false);
    expect(machine.canMove('stopped')).toBe(true);
  });

  it('says when work is taken and when the agent is on its way out', () => {
    const { machine } = machineIn('connecting');
    expect([machine.acceptsWork, machine.closing]).toEqual([true, false]);
    machine.moveTo('draining');
    expect([machine.acceptsWork, machine.closing]).toEqual([false, false]);
    machine.moveTo('stopping');
    expect([machine.acceptsWork, machine.closing]).toEqual([false, true]);
    machine.stop({ reason: 'drained' });
    expect([machine.acceptsWork, machine.closing]).toEqual([false, true]);
  });
});
