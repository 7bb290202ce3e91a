import { Fleet } from './agents.js';
import type { FleetCommand, FleetReport, FleetShard } from './fleet-protocol.js';

/**
 * One child process of a `ProcessFleet` (fleet.ts): its share of the simulated delegates, each an
 * `Agent` with its own carrier client, driven by the parent over IPC.
 */
// tsx turns source maps on for the bench's TypeScript; a delegate runs compiled JavaScript without
// them. With them, every Error's stack is mapped, and grpc-js takes a stack at the start of every
// call: a profile of a worker during a reconnect storm had 10% of its samples there.
process.setSourceMapsEnabled(false);

const report = (message: FleetReport): void => {
  process.send?.(message);
};

let fleet: Fleet | undefined;
process.on('message', (command: FleetCommand) => {
  void handle(command).catch((err: unknown) => report({ kind: 'failed', message: (err as Error).stack ?? String(err) }));
});
// The parent going away (a crashed bench) must not leave thousands of connections behind.
process.on('disconnect', () => process.exit(0));
report({ kind: 'ready' });

async function handle(command: FleetCommand): Promise<void> {
  switch (command.kind) {
    case 'start':
      fleet = await Fleet.start(options(command.shard));
      report({ kind: 'registered', count: fleet.agents.length });
      return;
    case 'arm': {
      const current = fleet;
      if (!current) throw new Error('arm before start');
      void current.allRegisteredAgain().then(() => report({ kind: 'back' }));
      report({ kind: 'armed' });
      return;
    }
    case 'stop':
      await fleet?.stop();
      report({ kind: 'stopped' });
      process.disconnect();
      return;
  }
}

function options(shard: FleetShard): Parameters<typeof Fleet.start>[0] {
  return { ...shard, tags: [...shard.tags] };
}
