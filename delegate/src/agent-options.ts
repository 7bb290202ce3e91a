import { BATCH_LIMITS } from '@attache/proto';
import type { BackoffOptions } from './backoff.js';
import type { Carrier } from './carriers/index.js';
import type { Executor } from './executors/executor.js';
import type { Keyring } from './keys/keyring.js';
import type { Logger } from './log.js';
import type { Masker } from './masking.js';
import type { DelegatePolicy } from './policy/delegate-policy.js';

/**
 * Every default of the agent, each stated once with its reason. The command line's flags and
 * environment (config.ts) take theirs from here too, so a delegate started either way behaves the same.
 */
export const AGENT_DEFAULTS = {
  /** Tasks run at once: enough to overlap AWS round trips without exhausting a small host. */
  maxConcurrency: 10,
  /** How long draining waits for running tasks before cancelling them: a validation takes seconds. */
  drainGraceMs: 30_000,
  /** How long draining waits to deliver finished results once the tasks are done. */
  flushTimeoutMs: 10_000,
  /** No Welcome within this long: the connection is dropped and retried. */
  welcomeTimeoutMs: 10_000,
  /**
   * A registered connection that lasted this long counts as stable and resets the backoff: a server
   * that welcomes and then drops us at once must not cause a tight loop.
   */
  stableAfterMs: 10_000,
  /** Heartbeat interval when Welcome names none; the control plane's own default. */
  heartbeatIntervalMs: 10_000,
  /** Heartbeats are never sent more often than this, whatever Welcome asks: a zero would be a hot loop. */
  minHeartbeatIntervalMs: 50,
  /** After the drain's clean half-close, how long the server may take to end the stream before it is cut. */
  closeTimeoutMs: 2_000,
  /** After cancelling the runs at the end of the grace period, how long to wait for them to settle. */
  cancelSettleMs: 5_000,
  /**
   * Items in one batched frame either way (proto/src/batch.ts): the Assigns Hello says this delegate
   * takes in one AssignBatch, and the most Accepted/Result items it puts in one DelegateBatch to a
   * control plane that takes them. 0: single frames only, as a delegate that predates batches.
   */
  maxBatchItems: BATCH_LIMITS.maxItems,
} as const;

/** What the agent needs from an executor registry (ExecutorRegistry is the one implementation). */
export interface ExecutorSource {
  get(type: string): Executor | undefined;
  types(): string[];
}

export interface AgentOptions {
  /**
   * Control-plane URL, or several tried in turn: each failed connect or lost connection moves to the
   * next (with the usual backoff), so a delegate rides out a replica going away. Each scheme picks
   * its carrier (grpc://, grpcs://, ws://, wss://).
   */
  url: string | URL | ReadonlyArray<string | URL>;
  /** Bearer token of this delegate; registered with the masker so it never appears in output. */
  token: string;
  /** Group name (also a tag). */
  name: string;
  tags?: string[];
  /** Tasks run at once. Default `AGENT_DEFAULTS.maxConcurrency`. */
  maxConcurrency?: number;
  /** PEM trust roots for TLS carriers. */
  ca?: Buffer;
  /**
   * Executors this delegate offers (an `ExecutorRegistry`, e.g. `builtinExecutors()`, or a list);
   * their types go into Hello.
   */
  executors: ExecutorSource | Iterable<Executor>;
  /** How long draining waits for running tasks before cancelling them. Default `AGENT_DEFAULTS.drainGraceMs`. */
  drainGraceMs?: number;
  /** How long draining waits to deliver finished results. Default `AGENT_DEFAULTS.flushTimeoutMs`. */
  flushTimeoutMs?: number;
  /** No Welcome within this long: the connection is dropped and retried. Default `AGENT_DEFAULTS.welcomeTimeoutMs`. */
  welcomeTimeoutMs?: number;
  /** A registered connection that lasted this long resets the backoff. Default `AGENT_DEFAULTS.stableAfterMs`. */
  stableAfterMs?: number;
  /** Items in one batched frame either way; 0 for single frames only. Default `AGENT_DEFAULTS.maxBatchItems`. */
  maxBatchItems?: number;
  backoff?: BackoffOptions;
  /** Defaults to a JSON logger on stdout, masked by `masker`. */
  logger?: Logger;
  /** Shared with the logger so secrets registered by executors vanish from logs too. */
  masker?: Masker;
  /** Random per process by default; the control plane uses it to recognise a reconnect. */
  instanceId?: string;
  /** Reported in Hello. Defaults to this package's version. */
  version?: string;
  /** Injected carrier (tests, custom transports), used instead of `url`; otherwise one per URL. */
  carrier?: Carrier;
  /**
   * The group keys for sealed values. Their public halves go into Hello (the first is the one
   * clients should seal to), which is how the control plane routes sealed work only here.
   */
  keyring?: Keyring;
  /**
   * What this delegate may read and where it may connect (ATTACHE_ALLOW_REFS,
   * ATTACHE_ALLOW_ENDPOINTS), enforced on every task and reported in Hello. Default: the default
   * policy, with this agent's token reserved.
   */
  policy?: DelegatePolicy;
}

/** The timing options with their defaults applied, read once by the agent. */
export interface AgentTimings {
  maxConcurrency: number;
  drainGraceMs: number;
  flushTimeoutMs: number;
  welcomeTimeoutMs: number;
  stableAfterMs: number;
  maxBatchItems: number;
}

export function agentTimings(options: AgentOptions): AgentTimings {
  const maxBatchItems = options.maxBatchItems ?? AGENT_DEFAULTS.maxBatchItems;
  // Sent in Hello as a uint32, and a bound on every batch this agent reads: a bad value is the caller's bug, said at once.
  if (!Number.isInteger(maxBatchItems) || maxBatchItems < 0 || maxBatchItems > 0xffff_ffff) {
    throw new RangeError(`maxBatchItems must be a whole number of items, 0 (single frames only) or more; got ${maxBatchItems}`);
  }
  return {
    maxConcurrency: options.maxConcurrency ?? AGENT_DEFAULTS.maxConcurrency,
    drainGraceMs: options.drainGraceMs ?? AGENT_DEFAULTS.drainGraceMs,
    flushTimeoutMs: options.flushTimeoutMs ?? AGENT_DEFAULTS.flushTimeoutMs,
    welcomeTimeoutMs: options.welcomeTimeoutMs ?? AGENT_DEFAULTS.welcomeTimeoutMs,
    stableAfterMs: options.stableAfterMs ?? AGENT_DEFAULTS.stableAfterMs,
    maxBatchItems,
  };
}
