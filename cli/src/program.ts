import { createRequire } from 'node:module';
import { Argument, Command, Option } from 'commander';
import { accountsCommand } from './commands/accounts.js';
import { auditCommand } from './commands/audit.js';
import { contextCommand } from './commands/context.js';
import { delegatesCommand } from './commands/delegates.js';
import { gatewaysCommand } from './commands/gateways.js';
import { loginCommand } from './commands/login.js';
import { logoutCommand } from './commands/logout.js';
import { whoamiCommand } from './commands/whoami.js';
import { roleSetupCommand } from './commands/role-setup.js';
import { newAccountIdCommand, sealCommand } from './commands/seal.js';
import { tasksCommand } from './commands/tasks.js';
import { tokensCommand } from './commands/tokens.js';
import { bashCompletion, zshCompletion } from './completion.js';
import { EXIT_CODES_HELP } from './exit-codes.js';

const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

const ENVIRONMENT_HELP = `Environment:
  ATTACHE_API_URL, ATTACHE_API_KEY  override the context's URL and credential (CI)
  ATTACHE_CONFIG                    configuration file (default $XDG_CONFIG_HOME/attache/config.json,
                                    else ~/.config/attache/config.json)
  NO_COLOR                          no colour (as --no-color)`;

/** The whole command tree; completion is generated from it, so every command is registered here. */
export function buildProgram(): Command {
  const program = new Command('attache')
    .description('Attaché from the command line: AWS accounts, delegates, tokens and tasks, through the public API.')
    .version(version)
    .option('--context <name>', 'the saved context to use for this command (default: the current one)')
    .addOption(new Option('--no-color', 'no colour, even on a terminal'))
    .showSuggestionAfterError(true)
    .addHelpText('after', `\n${ENVIRONMENT_HELP}\n\n${EXIT_CODES_HELP}\n`);

  program.addCommand(loginCommand());
  program.addCommand(logoutCommand());
  program.addCommand(whoamiCommand());
  program.addCommand(contextCommand());
  program.addCommand(accountsCommand());
  program.addCommand(roleSetupCommand());
  program.addCommand(delegatesCommand());
  program.addCommand(gatewaysCommand());
  program.addCommand(tokensCommand());
  program.addCommand(tasksCommand());
  program.addCommand(auditCommand());
  program.addCommand(sealCommand());
  program.addCommand(newAccountIdCommand());

  program
    .command('completion')
    .description('print a shell completion script')
    .addHelpText('after', '\nbash: source <(attache completion bash)\nzsh:  source <(attache completion zsh)')
    .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
    .action((shell: 'bash' | 'zsh') => {
      process.stdout.write(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
    });

  // Every command exits through main's error handling, with the documented codes; commander's own
  // complaints (unknown option, missing argument) read like the CLI's other errors.
  const configure = (cmd: Command) => {
    cmd.exitOverride().configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'error: USAGE: ')) });
    for (const sub of cmd.commands) configure(sub);
  };
  configure(program);
  return program;
}
