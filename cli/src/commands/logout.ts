import { Command } from 'commander';
import { ApiClient } from '../api/client.js';
import { configPath, readConfig, writeConfig } from '../config/config-file.js';
import { ApiError, CliError, CliErrorCode } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { runtime } from './runtime.js';

export function logoutCommand(): Command {
  return new Command('logout')
    .description('sign out: end the session of a browser sign-in at the control plane and forget the context (the current one, or --context)')
    .action(async (_opts, cmd: Command) => {
      const rt = runtime(cmd);
      const { context: named } = cmd.optsWithGlobals<{ context?: string }>();
      const path = configPath();
      const config = await readConfig(path);
      const name = named ?? config.currentContext;
      const context = name ? config.contexts[name] : undefined;
      if (!name || !context) {
        throw new CliError(
          name ? CliErrorCode.CONTEXT_NOT_FOUND : CliErrorCode.NOT_LOGGED_IN,
          name ? `No context named "${name}" in ${path}; attache context list shows the contexts.` : 'No current context to log out of.',
          name ? ExitCode.NOT_FOUND : ExitCode.AUTH,
          name ? { context: name } : {},
        );
      }
      let note = '';
      if (context.session) {
        try {
          await new ApiClient(context.url, context.session.token).delete('/v1/session');
          note = '; the session is ended';
        } catch (err) {
          // Already ended (expired, revoked, signed out elsewhere): there is nothing left to end.
          if (!(err instanceof ApiError && (err.code === 'UNAUTHENTICATED' || err.code === 'SESSION_EXPIRED'))) throw err;
          note = '; the session had already ended';
        }
      } else {
        note = '; its API key is still valid: revoke it at the control plane (POST /v1/api-keys/{id}/revoke) if it should stop working';
      }
      delete config.contexts[name];
      if (config.currentContext === name) config.currentContext = null;
      await writeConfig(path, config);
      rt.term.out(`logged out of context "${name}"${note}\n`);
    });
}
