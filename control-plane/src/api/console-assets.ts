import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * The browser console (console/ in the repository, built by `npm run build` into console/dist):
 * index.html for the console's pages, and the hashed files Vite writes to dist/assets.
 *
 * It is answered from an onRequest hook, and only for GET and HEAD requests that no route matched:
 * the console can never shadow an API path, a probe or /metrics, whatever routes are added later.
 * It is not an API route either (no entry in the route table or the OpenAPI document): the pages are
 * public static files, and everything they show comes from the public API, signed in.
 */

/** The first path segments of the console's own pages (its router's paths); other unknown paths stay 404/401. */
export const CONSOLE_PAGES = ['', 'sign-in', 'accounts', 'delegates', 'gateways', 'tokens', 'tasks', 'audit', 'users', 'api-keys'] as const;

const ASSETS_PREFIX = '/assets/';
/** Where `npm run build` puts the console, relative to this file in control-plane/dist/api/. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../console/dist/', import.meta.url));

/**
 * No third-party origin, no inline script or style, no framing. `connect-src 'self'` covers the API
 * and the event stream; the OIDC sign-in is a top-level navigation, which connect-src does not limit.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

interface Asset {
  body: Buffer;
  contentType: string;
}

interface ConsoleFiles {
  index: Buffer;
  /** By file name: only files present at start are served, so no request path ever reaches the file system. */
  assets: ReadonlyMap<string, Asset>;
}

/** Reads the built console once, at start; undefined when it has not been built. */
export function loadConsoleFiles(dir: string): ConsoleFiles | undefined {
  let index: Buffer;
  try {
    index = readFileSync(join(dir, 'index.html'));
  } catch {
    return undefined;
  }
  const assets = new Map<string, Asset>();
  const assetsDir = join(dir, 'assets');
  let names: string[] = [];
  try {
    names = readdirSync(assetsDir);
  } catch {
    // A console without assets is still served; its page will say what failed to load.
  }
  for (const name of names) {
    const file = join(assetsDir, name);
    if (!statSync(file).isFile()) continue;
    assets.set(name, { body: readFileSync(file), contentType: CONTENT_TYPES[extname(name)] ?? 'application/octet-stream' });
  }
  return { index, assets };
}

const NOT_BUILT_MESSAGE =
  'The console is not built (console/dist/index.html is missing), so this control plane serves the API only (/v1/...). Run `npm run build` in the repository, then restart the control plane.';

/** `/` itself, or a path whose first segment names a page; `//v1/...` and the like are never pages. */
function isConsolePage(path: string): boolean {
  if (path === '/') return true;
  const first = path.split('/')[1] ?? '';
  return first !== '' && (CONSOLE_PAGES as readonly string[]).includes(first);
}

/** Registers the console on `app`. Call before access control, so that its hook runs first. */
export function serveConsole(app: FastifyInstance, options: { dir?: string; log?: { info: (obj: object, msg: string) => void } } = {}): void {
  const dir = options.dir ?? DEFAULT_CONSOLE_DIR;
  const files = loadConsoleFiles(dir);
  options.log?.info({ dir, built: files !== undefined, assets: files?.assets.size ?? 0 }, files ? 'console served at /' : 'console not built: API only');

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.is404 || (request.method !== 'GET' && request.method !== 'HEAD')) return;
    const path = request.url.split('?')[0] ?? '';
    if (path.startsWith(ASSETS_PREFIX)) {
      const asset = files?.assets.get(path.slice(ASSETS_PREFIX.length));
      if (!asset) return;
      // Vite puts a content hash in every asset name: a new build is a new URL.
      return reply.code(200).header('cache-control', 'public, max-age=31536000, immutable').type(asset.contentType).send(asset.body);
    }
    if (!isConsolePage(path)) return;
    if (!files) {
      return reply.code(503).header('cache-control', 'no-cache').send({ error: { code: 'CONSOLE_NOT_BUILT', message: NOT_BUILT_MESSAGE, details: {} } });
    }
    // index.html names the current hashed assets: always revalidated, so a deploy shows at the next load.
    return reply
      .code(200)
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CONSOLE_CSP)
      .header('referrer-policy', 'same-origin')
      .header('x-frame-options', 'DENY')
      .type('text/html; charset=utf-8')
      .send(files.index);
  });
}
