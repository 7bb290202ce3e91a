import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CliError, CliErrorCode } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

export const CALLBACK_PATH = '/callback';

/** What the control plane's redirect brought: a one-time code (checked state), else a refusal was thrown. */
export interface ReceivedCode {
  code: string;
}

/**
 * The native app's loopback redirect (RFC 8252 §7.3): an HTTP server on 127.0.0.1, on a port the
 * system picks, that takes exactly one callback. A callback whose state is not ours ends the
 * sign-in with STATE_MISMATCH (it did not come from the sign-in this process started); one with
 * `error` ends it with the control plane's code and sentence. The browser's request is answered
 * only once `finish` has run (the exchange), so the page says how the sign-in ended.
 */
export class LoopbackReceiver {
  private constructor(
    private readonly server: Server,
    readonly redirectUri: string,
  ) {}

  static async listen(): Promise<LoopbackReceiver> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return new LoopbackReceiver(server, `http://127.0.0.1:${port}${CALLBACK_PATH}`);
  }

  /**
   * Waits for the callback, checks its state and hands its code to `finish`; resolves with what
   * `finish` returned. The browser is told the outcome either way.
   */
  wait<T>(expectedState: string, timeoutMs: number, finish: (received: ReceivedCode) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new CliError(CliErrorCode.SIGN_IN_TIMEOUT, `No sign-in came back within ${Math.round(timeoutMs / 1000)} s; run attache login again and finish it in the browser.`, ExitCode.AUTH));
      }, timeoutMs);
      const end = (res: ServerResponse, status: number, title: string, text: string, outcome: () => void) => {
        settled = true;
        clearTimeout(timer);
        page(res, status, title, text);
        outcome();
      };
      this.server.on('request', (req: IncomingMessage, res: ServerResponse) => {
        const url = new URL(req.url ?? '/', this.redirectUri);
        if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH || settled) {
          page(res, 404, 'Not here', 'This address only takes the one sign-in attache login is waiting for.');
          return;
        }
        const state = url.searchParams.get('state');
        if (state !== expectedState) {
          const err = new CliError(
            CliErrorCode.STATE_MISMATCH,
            'The sign-in that came back is not the one this attache login started (its state does not match); nothing was saved. Run attache login again.',
            ExitCode.AUTH,
          );
          end(res, 400, 'Sign-in refused', err.message, () => reject(err));
          return;
        }
        const error = url.searchParams.get('error');
        if (error) {
          const message = url.searchParams.get('error_description') ?? 'The control plane refused the sign-in.';
          const err = new CliError(/^[A-Z][A-Z0-9_]{0,63}$/.test(error) ? error : CliErrorCode.SIGN_IN_REFUSED, message, ExitCode.AUTH);
          end(res, 403, 'Sign-in refused', message, () => reject(err));
          return;
        }
        const code = url.searchParams.get('code');
        if (!code) {
          const err = new CliError(CliErrorCode.SIGN_IN_REFUSED, 'The sign-in came back without a code; run attache login again.', ExitCode.AUTH);
          end(res, 400, 'Sign-in refused', err.message, () => reject(err));
          return;
        }
        settled = true;
        clearTimeout(timer);
        finish({ code }).then(
          (value) => {
            page(res, 200, 'Signed in', 'attache is signed in. You can close this tab and return to the terminal.');
            resolve(value);
          },
          (err: unknown) => {
            page(res, 403, 'Sign-in refused', err instanceof Error ? err.message : String(err));
            reject(err);
          },
        );
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: ServerResponse, status: number, title: string, text: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
  res.end(`<!doctype html><meta charset="utf-8"><title>attache: ${escapeHtml(title)}</title><h1>${escapeHtml(title)}</h1><p>${escapeHtml(text)}</p>\n`);
}
