import { Command } from 'commander';
import { ApiClient } from '../api/client.js';
import { CONTEXT_NAME, configPath, readConfig, writeConfig } from '../config/config-file.js';
import { CliError, CliErrorCode, usageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { runtime } from './runtime.js';

/** A context's name when none is given: the API's host, so two control planes get two contexts. */
const defaultContextName = (url: string): string => new URL(url).host.replace(/[^A-Za-z0-9._@-]/g, '-');

export function loginCommand(): Command {
  return new Command('login')
    .description('check an API key against the control plane and save it as a context (the current one)')
    .requiredOption('--url <url>', 'control-plane HTTP API, e.g. https://attache.example.com')
    .option('--api-key <key>', 'tenant API key (else ATTACHE_API_KEY, which keeps it out of the process list)')
    .addHelpText('after', '\nThe context is saved under the global --context NAME, else the URL\'s host.')
    .action(async (opts: { url: string; apiKey?: string }, cmd: Command) => {
      const rt = runtime(cmd);
      // The program's --context names the context to use; for login, the one to save.
      const { context: contextName } = cmd.optsWithGlobals<{ context?: string }>();
      const apiKey = opts.apiKey ?? process.env['ATTACHE_API_KEY'];
      if (!apiKey) {
        throw new CliError(
          CliErrorCode.NOT_SUPPORTED,
          'attache login needs an API key (--api-key or ATTACHE_API_KEY). Signing in through the browser (OIDC) or with a device code is not available yet: it comes with user sign-in in a later release.',
          ExitCode.USAGE,
        );
      }
      let url: URL;
      try {
        url = new URL(opts.url);
      } catch {
        throw usageError(`--url ${opts.url} is not a URL; e.g. https://attache.example.com`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--url must be http(s), not ${url.protocol}`);
      const name = contextName ?? defaultContextName(url.href);
      if (!CONTEXT_NAME.test(name)) throw usageError(`context name "${name}" must be letters, digits and . _ @ -, up to 63 characters.`);

      // A tenant route: it proves the key is a tenant's (the operator key is refused with 403).
      const { body } = await new ApiClient(url.href, apiKey).get<{ externalId: string }>('/v1/aws/external-id');
      const path = configPath();
      const config = await readConfig(path);
      config.contexts[name] = { url: url.href.replace(/\/$/, ''), apiKey, externalId: body.externalId, createdAt: new Date().toISOString() };
      config.currentContext = name;
      await writeConfig(path, config);
      rt.term.out(`logged in to ${url.origin} as context "${name}" (now current); tenant external ID ${body.externalId}\n`);
    });
}
