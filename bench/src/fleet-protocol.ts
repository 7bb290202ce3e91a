/** The messages between a `ProcessFleet` (fleet.ts) and its child processes (fleet-worker.ts). */

/** One child's share of the fleet: the `Fleet` options, `keepaliveOffset` keeping every connection its own. */
export interface FleetShard {
  url: string;
  token: string;
  name: string;
  count: number;
  tags: readonly string[];
  maxConcurrency: number;
  /** Connection attempts each child keeps open at once while it starts its share. */
  startBatch: number;
  keepaliveOffset: number;
}

export type FleetCommand =
  | { kind: 'start'; shard: FleetShard }
  /** From now on report `back` once every agent of the child has registered again. */
  | { kind: 'arm' }
  | { kind: 'stop' };

export type FleetReport =
  /** Loaded and listening for commands (the time to start a child is not the fleet's to measure). */
  | { kind: 'ready' }
  | { kind: 'registered'; count: number }
  | { kind: 'armed' }
  | { kind: 'back' }
  | { kind: 'stopped' }
  | { kind: 'failed'; message: string };
