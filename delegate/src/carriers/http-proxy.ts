import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import { CarrierError } from './carrier.js';

/**
 * HTTP CONNECT tunnels for carriers that speak HTTP/1.1 (WebSocket), written against node:http
 * rather than an agent package: the delegate needs NO_PROXY matching and errors that name the
 * proxy's answer (407 means fix the proxy credentials, not retry), and both are a few lines here.
 */

/** The proxy to use for `target` under the conventional environment variables, or undefined for a direct connection. */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv = process.env): URL | undefined {
  const secure = target.protocol === 'wss:' || target.protocol === 'https:';
  // Lower case first, as curl does; both spellings are common in manifests.
  const raw = secure ? (env['https_proxy'] ?? env['HTTPS_PROXY']) : (env['http_proxy'] ?? env['HTTP_PROXY']);
  if (!raw) return undefined;
  if (bypassesProxy(target, env['no_proxy'] ?? env['NO_PROXY'] ?? '')) return undefined;
  // A bare host:port is how many people write it; treat it as http://.
  const proxy = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`);
  if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') {
    throw new CarrierError('transient', 'PROXY_UNSUPPORTED', `unsupported proxy scheme ${proxy.protocol}// (use http:// or https://)`);
  }
  return proxy;
}

/**
 * NO_PROXY: comma- or space-separated entries; `*` bypasses everything; `example.com` and
 * `.example.com` match the host and its subdomains; `host:port` matches that port only.
 */
export function bypassesProxy(target: URL, noProxy: string): boolean {
  const host = stripBrackets(target.hostname.toLowerCase());
  const port = target.port || (target.protocol === 'wss:' || target.protocol === 'https:' ? '443' : '80');
  for (const rawEntry of noProxy.split(/[\s,]+/)) {
    const entry = rawEntry.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    const [name, entryPort] = splitHostPort(entry);
    if (entryPort !== undefined && entryPort !== port) continue;
    const domain = stripBrackets(name.replace(/^\*?\./, ''));
    if (host === domain || host.endsWith(`.${domain}`)) return true;
  }
  return false;
}

export interface TunnelOptions {
  proxy: URL;
  /** host:port to reach through the proxy. */
  host: string;
  port: number;
  /** Trust roots for an https:// proxy. */
  ca?: Buffer | undefined;
  timeoutMs?: number;
}

/** Opens a CONNECT tunnel and resolves with the raw socket to `host:port` once the proxy answers 2xx. */
export function openTunnel(options: TunnelOptions): Promise<Socket> {
  const { proxy, host, port } = options;
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const headers: Record<string, string> = { host: authority };
  if (proxy.username !== '') {
    const user = decodeURIComponent(proxy.username);
    const password = decodeURIComponent(proxy.password);
    headers['proxy-authorization'] = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  }
  const request = (proxy.protocol === 'https:' ? https : http).request({
    host: stripBrackets(proxy.hostname),
    port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
    method: 'CONNECT',
    path: authority,
    headers,
    ca: options.ca,
    // One tunnel per connection: pooling a CONNECT socket would hand it to the wrong request.
    agent: false,
  });
  const shownProxy = `${proxy.protocol}//${proxy.host}`;
  return new Promise((resolve, reject) => {
    request.setTimeout(options.timeoutMs ?? 10_000, () => {
      request.destroy(new CarrierError('transient', 'PROXY_TIMEOUT', `proxy ${shownProxy} did not answer CONNECT ${authority} in time`));
    });
    request.once('connect', (response, socket, head) => {
      request.setTimeout(0);
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        socket.destroy();
        const hint = status === 407 ? ' (proxy authentication required: put credentials in the proxy URL)' : '';
        reject(new CarrierError('transient', `PROXY_${status}`, `proxy ${shownProxy} refused CONNECT ${authority}: ${status} ${response.statusMessage ?? ''}${hint}`.trim()));
        return;
      }
      // Bytes the proxy sent after its answer belong to the tunnelled protocol.
      if (head.length > 0) socket.unshift(head);
      resolve(socket);
    });
    request.once('error', (err) => {
      reject(
        err instanceof CarrierError
          ? err
          : new CarrierError('transient', 'PROXY_UNREACHABLE', `proxy ${shownProxy}: ${err.message}`, { cause: err }),
      );
    });
    request.end();
  });
}

/** `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 literal (whose colons are not a port). */
function splitHostPort(entry: string): [string, string | undefined] {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
  if (bracketed) return [bracketed[1]!, bracketed[2]];
  if (entry.indexOf(':') !== entry.lastIndexOf(':')) return [entry, undefined];
  const plain = /^([^:]+)(?::(\d+))?$/.exec(entry);
  return plain ? [plain[1]!, plain[2]] : [entry, undefined];
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
