import { Command } from 'commander';
import { outputOption, render } from '../output/render.js';
import { formatTable } from '../output/table.js';
import { runtime } from './runtime.js';

/** Gateways: delegate groups with their replicas and the IAM identities they reported. */
interface Gateway {
  name: string;
  connected: number;
  replicas: Array<{ id: string; status: string }>;
  identities: Array<{ partition: string; arn: string }>;
}

export function gatewaysCommand(): Command {
  const gateways = new Command('gateways').description('delegate groups, which an account\'s gateway pins its tasks to');
  gateways
    .command('list')
    .description('list gateways with their replicas and reported IAM identities')
    .addOption(outputOption())
    .action(async (_opts, cmd: Command) => {
      const rt = runtime(cmd);
      const body = await (await rt.api()).list<Gateway>('/v1/gateways');
      render(rt.term, rt.output, body, () =>
        formatTable(
          [
            { header: 'name', value: (g: Gateway) => g.name },
            { header: 'connected', value: (g: Gateway) => `${g.connected}/${g.replicas.length}` },
            { header: 'identities', value: (g: Gateway) => g.identities.map((i) => `${i.partition}=${i.arn}`) },
          ],
          body.items,
          { header: rt.term.color.bold },
        ),
      );
    });
  return gateways;
}
