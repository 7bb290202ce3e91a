import { CLI_SIGN_IN_EXCHANGE_PATH as EXCHANGE_PATH, CLI_SIGN_IN_START_PATH as START_PATH } from '@attache/proto';
import { z } from 'zod';
import { ApiClient } from '../api/client.js';
import { ApiError, CliError, CliErrorCode } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import type { Terminal } from '../output/terminal.js';
import { canOpenBrowser, openBrowser } from './browser-launch.js';
import { LoopbackReceiver } from './loopback-receiver.js';
import { newPkce, newState } from './pkce.js';

/** How long `attache login --oidc` waits for the browser (the control plane keeps a started sign-in 10 min). */
export const SIGN_IN_WAIT_MS = 5 * 60_000;

/** The answer of POST /v1/session/oidc/exchange, checked before anything is saved. */
const cliSession = z.object({
  token: z.string().min(1),
  tokenType: z.literal('Bearer'),
  user: z.object({ id: z.string(), email: z.string(), name: z.string().nullable().optional() }).passthrough(),
  tenant: z.object({ id: z.string(), name: z.string() }),
  role: z.string(),
  expiresAt: z.string(),
  idleTimeoutSeconds: z.number(),
});
export type CliSession = z.infer<typeof cliSession>;

export interface BrowserSignInOptions {
  /** The control plane's HTTP API, as given to --url. */
  url: string;
  tenant: string;
  /** false with --no-browser, or when no browser can be opened here: the URL is only printed. */
  browser: boolean;
  term: Terminal;
  waitMs?: number;
}

/**
 * `attache login --oidc`: the native-app flow of RFC 8252 with PKCE. A loopback receiver on
 * 127.0.0.1, a verifier and a state of this process; the browser goes to the control plane's start
 * URL (which runs the tenant's OIDC sign-in) and comes back to the receiver with a one-time code
 * and our state; the code and the verifier are exchanged for the user's session.
 */
export async function signInWithBrowser(options: BrowserSignInOptions): Promise<CliSession> {
  const receiver = await LoopbackReceiver.listen();
  try {
    const pkce = newPkce();
    const state = newState();
    const start = new URL(START_PATH.slice(1), options.url.endsWith('/') ? options.url : `${options.url}/`);
    start.search = new URLSearchParams({
      tenant: options.tenant,
      redirectUri: receiver.redirectUri,
      codeChallenge: pkce.challenge,
      codeChallengeMethod: 'S256',
      state,
    }).toString();

    await preflight(start);
    const opened = options.browser && canOpenBrowser() && (await openBrowser(start.href));
    options.term.err(
      opened
        ? `Opened the browser to sign in to tenant "${options.tenant}". If it did not open, visit:\n  ${start.href}\n`
        : `Open this URL in a browser on this machine to sign in to tenant "${options.tenant}":\n  ${start.href}\n`,
    );
    const waitMs = options.waitMs ?? SIGN_IN_WAIT_MS;
    options.term.err(`Waiting for the sign-in (up to ${Math.round(waitMs / 60_000)} min)...\n`);

    const api = new ApiClient(options.url, null);
    return await receiver.wait(state, waitMs, async ({ code }) => {
      const { body } = await api.post(EXCHANGE_PATH, { code, codeVerifier: pkce.verifier, redirectUri: receiver.redirectUri });
      const parsed = cliSession.safeParse(body);
      if (!parsed.success) throw new CliError(CliErrorCode.BAD_RESPONSE, `POST ${EXCHANGE_PATH} answered something that is not a session; is --url an Attaché control plane?`, ExitCode.FAILURE);
      return parsed.data;
    });
  } finally {
    await receiver.close();
  }
}

/**
 * Asks for the start URL once without following it, so what the control plane refuses before any
 * provider is involved (no OIDC for the tenant, a suspended tenant, an older control plane) is
 * told here at once instead of in a browser while the CLI waits. The sign-in this starts is never
 * finished; the control plane prunes it with the other abandoned ones.
 */
async function preflight(start: URL): Promise<void> {
  let res: Response;
  try {
    res = await fetch(start, { redirect: 'manual', headers: { accept: 'application/json' } });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new CliError(CliErrorCode.UNREACHABLE, `Cannot reach the control plane at ${start.origin} (${cause?.code ?? (err as Error).message}); check --url.`, ExitCode.FAILURE, { url: start.origin }, { cause: err });
  }
  if (res.status === 302 || res.status === 303) {
    await res.body?.cancel();
    return;
  }
  let error: { code?: unknown; message?: unknown; details?: unknown } | undefined;
  try {
    error = ((await res.json()) as { error?: typeof error }).error;
  } catch {
    error = undefined;
  }
  if (error && typeof error.code === 'string') throw new ApiError(res.status, error.code, String(error.message ?? ''), (error.details as Record<string, unknown>) ?? {});
  throw new ApiError(res.status, `HTTP_${res.status}`, `${START_PATH} answered ${res.status}; is --url an Attaché control plane with browser sign-in?`);
}
