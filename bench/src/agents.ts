import { Agent, Masker, builtinExecutors, createCarrier, createLogger, type DelegatePolicy } from '@attache/delegate';

export interface FleetOptions {
  url: string;
  token: string;
  name: string;
  count: number;
  tags?: string[];
  maxConcurrency?: number;
  /** Fewer connection attempts at once, so the start itself is not a storm we then measure. */
  startBatch?: number;
  /** What the delegates may read and reach (ATTACHE_ALLOW_REFS / _ENDPOINTS); default policy otherwise. */
  policy?: DelegatePolicy;
  /** Added to each agent's index in its keepalive, so agents of several processes stay distinct too. */
  keepaliveOffset?: number;
}

/**
 * Many delegates in this process, each with its own connection. grpc-js shares one HTTP/2
 * connection between clients whose target and channel options are equal; real delegates are
 * separate processes with a connection each, so every agent here gets a slightly different
 * keepalive (20 s + i ms, still a realistic value) and therefore a connection of its own.
 */
export class Fleet {
  readonly agents: Agent[] = [];

  static async start(opts: FleetOptions): Promise<Fleet> {
    const fleet = new Fleet();
    const masker = new Masker();
    const logger = createLogger({ level: 'silent', masker });
    const executors = builtinExecutors();
    const batch = opts.startBatch ?? 200;
    for (let i = 0; i < opts.count; i += batch) {
      const registered: Array<Promise<void>> = [];
      for (let j = i; j < Math.min(opts.count, i + batch); j++) {
        const carrierOptions = { token: opts.token, keepaliveMs: 20_000 + (opts.keepaliveOffset ?? 0) + j };
        const agent = new Agent({
          url: opts.url,
          token: opts.token,
          name: opts.name,
          tags: opts.tags ?? [],
          maxConcurrency: opts.maxConcurrency ?? 10,
          executors,
          logger,
          masker,
          carrier: createCarrier(opts.url, carrierOptions),
          ...(opts.policy ? { policy: opts.policy } : {}),
        });
        registered.push(new Promise<void>((resolve) => agent.once('registered', () => resolve())));
        fleet.agents.push(agent);
        void agent.start();
      }
      await withTimeout(Promise.all(registered), 60_000, `${registered.length} delegates to register`);
    }
    return fleet;
  }

  /** Resolves when every agent has registered again after a loss of the control plane. */
  allRegisteredAgain(): Promise<void> {
    return Promise.all(this.agents.map((a) => new Promise<void>((resolve) => a.once('registered', () => resolve())))).then(() => undefined);
  }

  async stop(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
  }
}

export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
