/**
 * Public entry of @attache/delegate: what the control plane (`npm start` runs a local delegate),
 * benchmarks (many agents in one process) and tests use. Internals stay unexported.
 */
export { Agent, type AgentEvents, type TaskOutcome, type WelcomeInfo } from './agent.js';
export { AGENT_DEFAULTS, type AgentOptions, type ExecutorSource } from './agent-options.js';
export type { AgentState, AgentStopInfo } from './agent-state.js';
export {
  AgentConfigurationError,
  AgentErrorCode,
  AgentStateError,
  DelegateError,
  GoodbyeError,
  WelcomeTimeoutError,
} from './errors.js';
export type { CancelReason, TaskInfo } from './task-run.js';
export { Backoff, type BackoffOptions } from './backoff.js';
export {
  CarrierError,
  createCarrier,
  registerCarrier,
  registeredSchemes,
  type Carrier,
  type CarrierConnection,
  type CarrierOptions,
  type CarrierRegistration,
} from './carriers/index.js';
export { loadConfig, loadPolicyConfig, CONFIG_SOURCES, type ConfigFlags, type ConfigResult, type DelegateConfig, type PolicyConfigResult } from './config.js';
export { DelegatePolicy, type PolicySummary } from './policy/delegate-policy.js';
export { echoExecutor } from './executors/echo.js';
export type { ExecutionContext, Executor } from './executors/executor.js';
export { ExecutorRegistry, builtinExecutors } from './executors/registry.js';
export { TaskFailure } from './executors/task-failure.js';
export { startHealthServer, type HealthServer } from './health-server.js';
export { createLogger, type Logger, type LogLevel } from './log.js';
export { ENDED_SCOPE_RETENTION_MS, MASK, MAX_ENDED_SCOPES, Masker, type MaskerOptions, type SecretScope } from './masking.js';
