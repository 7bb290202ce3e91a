import { CommanderError } from 'commander';
import { CliError } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { buildProgram } from './program.js';

/**
 * `attache`. Errors are one line on standard error, `error: CODE: sentence`, with the API's own
 * code when the API answered, and the exit codes of exit-codes.ts.
 */
async function main(): Promise<number> {
  try {
    await buildProgram().parseAsync(process.argv);
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander printed its own message (usage) or the help/version it was asked for.
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      return ok ? ExitCode.OK : ExitCode.USAGE;
    }
    if (err instanceof CliError) {
      process.stderr.write(`error: ${err.code}: ${err.message}\n`);
      return err.exitCode;
    }
    process.stderr.write(`error: INTERNAL: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return ExitCode.FAILURE;
  }
}

const code = await main();
// Spinner timers and keep-alive sockets must not hold the process once the outcome is known.
process.exitCode = code;
process.stdout.write('', () => process.exit(code));
