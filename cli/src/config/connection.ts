import { CliError, CliErrorCode } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { configPath, contextCredential, readConfig } from './config-file.js';

/** Where and as whom a command talks to the API. */
export interface Connection {
  readonly url: string;
  /** The bearer credential: an API key, or the session token of a browser sign-in. */
  readonly token: string;
  /** The context it came from; null when the environment supplied both. */
  readonly context: string | null;
}

/**
 * The connection for one command. `ATTACHE_API_URL` and `ATTACHE_API_KEY` (CI) override the
 * chosen context field by field; the context is `--context`, else the current one.
 */
export async function resolveConnection(options: { context?: string | undefined }, env: NodeJS.ProcessEnv = process.env): Promise<Connection> {
  const envUrl = env['ATTACHE_API_URL'] || undefined;
  const envKey = env['ATTACHE_API_KEY'] || undefined;
  if (envUrl && envKey && !options.context) return { url: envUrl, token: envKey, context: null };

  const path = configPath(env);
  const config = await readConfig(path);
  const name = options.context ?? config.currentContext;
  const context = name ? config.contexts[name] : undefined;
  if (name && !context) {
    throw new CliError(CliErrorCode.CONTEXT_NOT_FOUND, `No context named "${name}" in ${path}; attache context list shows the contexts.`, ExitCode.NOT_FOUND, { context: name });
  }
  const url = envUrl ?? context?.url;
  const token = envKey ?? (context ? contextCredential(context) : undefined);
  if (!url || !token) {
    throw new CliError(
      CliErrorCode.NOT_LOGGED_IN,
      `Not logged in: run attache login --url URL --api-key KEY (or --oidc --tenant NAME to sign in through the browser), or set ATTACHE_API_URL and ATTACHE_API_KEY.`,
      ExitCode.AUTH,
    );
  }
  return { url, token, context: name ?? null };
}
