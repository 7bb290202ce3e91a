import { Command } from 'commander';
import { configPath, readConfig, writeConfig } from '../config/config-file.js';
import { CliError, CliErrorCode } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { outputOption, render } from '../output/render.js';
import { formatTable } from '../output/table.js';
import { runtime } from './runtime.js';

export function contextCommand(): Command {
  const context = new Command('context').description('saved contexts (control plane and credential), like kubectl\'s');

  context
    .command('list')
    .description('list contexts; * marks the current one')
    .addOption(outputOption())
    .action(async (_opts, cmd: Command) => {
      const rt = runtime(cmd);
      const config = await readConfig(configPath());
      // Never the keys: this output ends up in terminals, logs and bug reports.
      const items = Object.entries(config.contexts).map(([name, c]) => ({
        name,
        current: name === config.currentContext,
        url: c.url,
        externalId: c.externalId ?? null,
        credential: c.session ? ('session' as const) : ('apiKey' as const),
        user: c.session?.user ?? null,
      }));
      render(rt.term, rt.output, { currentContext: config.currentContext, items }, () =>
        formatTable(
          [
            { header: 'current', value: (i: (typeof items)[number]) => (i.current ? '*' : '') },
            { header: 'name', value: (i: (typeof items)[number]) => i.name },
            { header: 'url', value: (i: (typeof items)[number]) => i.url },
            { header: 'external id', value: (i: (typeof items)[number]) => i.externalId },
            { header: 'credential', value: (i: (typeof items)[number]) => (i.user ? `session of ${i.user}` : 'API key') },
          ],
          items,
          { header: rt.term.color.bold },
        ),
      );
    });

  context
    .command('current')
    .description('print the current context\'s name (and what overrides it)')
    .action(async (_opts, cmd: Command) => {
      const rt = runtime(cmd);
      const config = await readConfig(configPath());
      const overrides = ['ATTACHE_API_URL', 'ATTACHE_API_KEY'].filter((v) => process.env[v]);
      if (!config.currentContext && overrides.length === 0) {
        throw new CliError(CliErrorCode.NOT_LOGGED_IN, 'No current context: run attache login --url URL --api-key KEY, or attache login --url URL --oidc --tenant NAME.', ExitCode.NOT_FOUND);
      }
      const ctx = config.currentContext ? config.contexts[config.currentContext] : undefined;
      rt.term.out(`${config.currentContext ?? '(none)'}${ctx ? `  ${ctx.url}` : ''}\n`);
      if (overrides.length > 0) rt.term.err(`note: ${overrides.join(' and ')} set in the environment override${overrides.length === 1 ? 's' : ''} the context\n`);
    });

  context
    .command('use')
    .description('make a context the current one')
    .argument('<name>', 'context name')
    .action(async (name: string, _opts, cmd: Command) => {
      await editContext(name, (config) => {
        config.currentContext = name;
      });
      runtime(cmd).term.out(`switched to context "${name}"\n`);
    });

  context
    .command('delete')
    .description('forget a context and its credential (attache logout also ends a session)')
    .argument('<name>', 'context name')
    .action(async (name: string, _opts, cmd: Command) => {
      await editContext(name, (config) => {
        delete config.contexts[name];
        if (config.currentContext === name) config.currentContext = null;
      });
      runtime(cmd).term.out(`deleted context "${name}"\n`);
    });
  return context;
}

/** Reads the config file, refuses an unknown context, applies `change` and writes the file back. */
async function editContext(name: string, change: (config: Awaited<ReturnType<typeof readConfig>>) => void): Promise<void> {
  const path = configPath();
  const config = await readConfig(path);
  if (!config.contexts[name]) throw missingContext(name, path);
  change(config);
  await writeConfig(path, config);
}

const missingContext = (name: string, path: string): CliError =>
  new CliError(CliErrorCode.CONTEXT_NOT_FOUND, `No context named "${name}" in ${path}; attache context list shows the contexts.`, ExitCode.NOT_FOUND, { context: name });
