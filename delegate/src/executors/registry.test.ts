import { describe, expect, it } from 'vitest';
import { AgentConfigurationError } from '../errors.js';
import type { Executor } from './executor.js';
import { builtinExecutors, ExecutorRegistry } from './registry.js';

const executor = (type: string): Executor => ({ type, run: async (payload) => payload });

describe('ExecutorRegistry', () => {
  it('finds an executor by its task type and lists the types sorted', () => {
    const echo = executor('echo');
    const other = executor('aws.other');
    const registry = new ExecutorRegistry([echo]).register(other);
    expect(registry.get('echo')).toBe(echo);
    expect(registry.get('aws.other')).toBe(other);
    expect(registry.get('missing')).toBeUndefined();
    expect(registry.types()).toEqual(['aws.other', 'echo']);
  });

  it('refuses a second executor for the same type, with a code', () => {
    const registry = new ExecutorRegistry([executor('echo')]);
    expect(() => registry.register(executor('echo'))).toThrow(AgentConfigurationError);
    expect(() => registry.register(executor('echo'))).toThrow(expect.objectContaining({ code: 'DUPLICATE_EXECUTOR' }));
    expect(() => new ExecutorRegistry([executor('x'), executor('x')])).toThrow(/registered twice/);
  });

  it('the stock delegate runs echo, aws.validate and aws.listPolicies', () => {
    expect(builtinExecutors().types()).toEqual(['aws.listPolicies', 'aws.validate', 'echo']);
  });
});
