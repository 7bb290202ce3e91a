import { Command, Option } from 'commander';
import { ApiClient } from '../api/client.js';
import { CONTEXT_NAME, configPath, readConfig, writeConfig, type Context } from '../config/config-file.js';
import { CliError, CliErrorCode, usageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { signInWithBrowser } from '../sign-in/browser-sign-in.js';
import { runtime } from './runtime.js';

/** A context's name when none is given: the API's host, so two control planes get two contexts. */
const defaultContextName = (url: string): string => new URL(url).host.replace(/[^A-Za-z0-9._@-]/g, '-');

interface LoginOptions {
  url: string;
  apiKey?: string;
  oidc?: boolean;
  tenant?: string;
  /** false with --no-browser. */
  browser: boolean;
}

export function loginCommand(): Command {
  return new Command('login')
    .description('sign in to a control plane and save it as a context (the current one): with an API key, or through the browser (OIDC)')
    .requiredOption('--url <url>', 'control-plane HTTP API, e.g. https://attache.example.com')
    .option('--api-key <key>', 'tenant API key (else ATTACHE_API_KEY, which keeps it out of the process list)')
    .addOption(new Option('--oidc', "sign in through the browser with the tenant's identity provider (needs --tenant)").conflicts('apiKey'))
    .option('--tenant <name>', 'the tenant to sign in to, with --oidc')
    .addOption(new Option('--no-browser', 'with --oidc: only print the sign-in URL (to open in a browser on this machine)'))
    .addHelpText(
      'after',
      "\nThe context is saved under the global --context NAME, else the URL's host.\n" +
        'With --oidc, attache listens on 127.0.0.1 for the browser to come back, and saves the session it is given:\n' +
        'it is your user (your role, audited as you), ends when unused for the control plane\'s idle time or at its\n' +
        'maximum age, and at attache logout.',
    )
    .action(async (opts: LoginOptions, cmd: Command) => {
      const rt = runtime(cmd);
      // The program's --context names the context to use; for login, the one to save.
      const { context: contextName } = cmd.optsWithGlobals<{ context?: string }>();
      let url: URL;
      try {
        url = new URL(opts.url);
      } catch {
        throw usageError(`--url ${opts.url} is not a URL; e.g. https://attache.example.com`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`--url must be http(s), not ${url.protocol}`);
      const name = contextName ?? defaultContextName(url.href);
      if (!CONTEXT_NAME.test(name)) throw usageError(`context name "${name}" must be letters, digits and . _ @ -, up to 63 characters.`);
      const base = url.href.replace(/\/$/, '');

      let context: Context;
      let who: string;
      if (opts.oidc) {
        if (!opts.tenant) throw usageError('attache login --oidc needs --tenant NAME: the tenant whose identity provider signs you in.');
        const session = await signInWithBrowser({ url: base, tenant: opts.tenant, browser: opts.browser, term: rt.term });
        context = {
          url: base,
          session: {
            token: session.token,
            user: session.user.email,
            tenant: session.tenant.name,
            role: session.role,
            expiresAt: session.expiresAt,
            idleTimeoutSeconds: session.idleTimeoutSeconds,
          },
        };
        who = ` as ${session.user.email} (${session.role}) in tenant ${session.tenant.name}`;
      } else {
        if (opts.tenant) throw usageError('--tenant is for --oidc; an API key already names its tenant.');
        const apiKey = opts.apiKey ?? process.env['ATTACHE_API_KEY'];
        if (!apiKey) {
          throw new CliError(
            CliErrorCode.USAGE,
            'attache login needs an API key (--api-key or ATTACHE_API_KEY), or --oidc --tenant NAME to sign in through the browser.',
            ExitCode.USAGE,
          );
        }
        context = { url: base, apiKey };
        who = '';
      }

      // A tenant route: it proves the credential is a tenant's (the operator key is refused with 403).
      const { body } = await new ApiClient(base, context.apiKey ?? context.session!.token).get<{ externalId: string }>('/v1/aws/external-id');
      const path = configPath();
      const config = await readConfig(path);
      config.contexts[name] = { ...context, externalId: body.externalId, createdAt: new Date().toISOString() };
      config.currentContext = name;
      await writeConfig(path, config);
      const ends = context.session
        ? `; the session ends after ${Math.round(context.session.idleTimeoutSeconds / 60)} min unused, at ${context.session.expiresAt} at the latest, or at attache logout`
        : '';
      rt.term.out(`logged in to ${url.origin}${who} as context "${name}" (now current); tenant external ID ${body.externalId}${ends}\n`);
    });
}
