import { AgentConfigurationError } from '../errors.js';
import { awsListPoliciesExecutor } from './aws-list-policies.js';
import { awsValidateExecutor } from './aws-validate.js';
import { echoExecutor } from './echo.js';
import type { Executor } from './executor.js';

/**
 * Executors by task type, the one lookup the agent uses (a plain list given to the agent becomes
 * one of these). The delegate advertises `types()` in its Hello, so the control plane only routes
 * work this process can run.
 */
export class ExecutorRegistry {
  private readonly byType = new Map<string, Executor>();

  constructor(executors: Iterable<Executor> = []) {
    for (const executor of executors) this.register(executor);
  }

  /** Adds an executor; a second one for the same type is a wiring mistake, so it throws. */
  register(executor: Executor): this {
    if (this.byType.has(executor.type)) {
      throw new AgentConfigurationError('DUPLICATE_EXECUTOR', `executor for task type "${executor.type}" registered twice; register each task type once`);
    }
    this.byType.set(executor.type, executor);
    return this;
  }

  get(type: string): Executor | undefined {
    return this.byType.get(type);
  }

  types(): string[] {
    return [...this.byType.keys()].sort();
  }
}

/** The executors a stock delegate runs. */
export function builtinExecutors(): ExecutorRegistry {
  return new ExecutorRegistry([echoExecutor, awsValidateExecutor, awsListPoliciesExecutor]);
}
