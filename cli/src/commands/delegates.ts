import { Command } from 'commander';
import { outputOption, render } from '../output/render.js';
import { formatTable } from '../output/table.js';
import { runtime } from './runtime.js';

/** Delegates as the API lists them: connected, draining and recently disconnected processes. */
interface Delegate {
  id: string;
  name: string;
  status: string;
  tags: string[];
  inFlight: number;
  maxConcurrency: number;
  version: string;
  transport: string;
  lastHeartbeatAt: string | null;
  [k: string]: unknown;
}

export function delegatesCommand(): Command {
  const delegates = new Command('delegates').description('delegates: connected, draining and recently disconnected');
  delegates
    .command('list')
    .description('list delegates')
    .addOption(outputOption())
    .action(async (_opts, cmd: Command) => {
      const rt = runtime(cmd);
      const body = await (await rt.api()).list<Delegate>('/v1/delegates');
      render(rt.term, rt.output, body, () =>
        formatTable(
          [
            { header: 'name', value: (d: Delegate) => d.name },
            { header: 'id', value: (d: Delegate) => d.id },
            { header: 'status', value: (d: Delegate) => d.status },
            { header: 'tags', value: (d: Delegate) => d.tags },
            { header: 'tasks', value: (d: Delegate) => `${d.inFlight}/${d.maxConcurrency}` },
            // `outdated` is set by control planes that know the current delegate release.
            { header: 'version', value: (d: Delegate) => (d['outdated'] === true ? `${d.version} (outdated)` : d.version) },
            { header: 'transport', value: (d: Delegate) => d.transport },
            { header: 'last heartbeat', value: (d: Delegate) => d.lastHeartbeatAt },
          ],
          body.items,
          { header: rt.term.color.bold },
        ),
      );
    });
  return delegates;
}
