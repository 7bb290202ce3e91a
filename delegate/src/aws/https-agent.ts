import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent, request as httpsRequest, type AgentOptions } from 'node:https';
import type { Socket } from 'node:net';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect, rootCertificates } from 'node:tls';

/**
 * The one HTTPS agent every AWS call and SCAP portal request of an account goes through:
 * - trust: with a CA bundle, that bundle is the only trust store (Node replaces its roots when
 *   `ca` is set), so a private-CA region is trusted and nothing else is;
 * - proxies: `HTTPS_PROXY` / `NO_PROXY` from the delegate's environment, honoured with a CONNECT
 *   tunnel so that TLS (and a client certificate) still runs end to end with the AWS endpoint.
 */
export interface HttpsAgentOptions {
  /** PEM bundle; absent means Node's own roots. */
  readonly caBundle?: string | undefined;
  /** Trust Node's roots in addition to the bundle (probes of other partitions). */
  readonly withSystemRoots?: boolean;
  /** Client certificate and key for mutual TLS (SCAP portals). */
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  /** Defaults to the delegate's environment, read when the agent is created. */
  readonly proxy?: ProxySettings;
}

export interface ProxySettings {
  readonly httpsProxy: URL | undefined;
  readonly noProxy: readonly string[];
}

/** The proxy settings of an environment: upper case wins, as curl and the AWS CLI read them. */
export function proxySettingsFromEnv(env: NodeJS.ProcessEnv = process.env): ProxySettings {
  const raw = env.HTTPS_PROXY || env.https_proxy || '';
  const noProxy = (env.NO_PROXY ?? env.no_proxy ?? '')
    .split(/[\s,]+/)
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '');
  if (raw === '') return { httpsProxy: undefined, noProxy };
  // "proxy.corp:3128" without a scheme is common in the wild and means plain HTTP to the proxy.
  return { httpsProxy: new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`), noProxy };
}

/**
 * Whether NO_PROXY exempts host:port. Entries are `*`, host names or domain suffixes (with or
 * without a leading `.` or `*.`), IP addresses, each optionally with `:port`.
 */
export function bypassesProxy(host: string, port: number, noProxy: readonly string[]): boolean {
  const name = host.toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  for (const entry of noProxy) {
    if (entry === '*') return true;
    const portMatch = /^(.*):(\d+)$/.exec(entry);
    const entryHost = (portMatch && !isIP(entry) ? portMatch[1]! : entry).replace(/^\*?\./, '').replace(/^\[(.*)\]$/, '$1');
    if (portMatch && !isIP(entry) && Number(portMatch[2]) !== port) continue;
    if (name === entryHost || (!isIP(name) && name.endsWith(`.${entryHost}`))) return true;
  }
  return false;
}

/** A proxy that would not open the tunnel; reported as ENDPOINT_UNREACHABLE naming the proxy. */
export class ProxyTunnelError extends Error {
  constructor(
    readonly proxy: string,
    readonly target: string,
    readonly statusCode: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(`the proxy ${proxy} did not open a tunnel to ${target}${statusCode ? ` (HTTP ${statusCode})` : ''}`, options);
    this.name = 'ProxyTunnelError';
  }
}

export function createHttpsAgent(options: HttpsAgentOptions = {}): Agent {
  const ca = options.caBundle ? (options.withSystemRoots ? [...rootCertificates, options.caBundle] : options.caBundle) : undefined;
  const agentOptions: AgentOptions = {
    keepAlive: true,
    maxSockets: 50,
    ...(ca ? { ca } : {}),
    ...(options.cert ? { cert: options.cert } : {}),
    ...(options.key ? { key: options.key } : {}),
  };
  return new TunnellingAgent(agentOptions, options.proxy ?? proxySettingsFromEnv());
}

class TunnellingAgent extends Agent {
  constructor(
    options: AgentOptions,
    private readonly proxy: ProxySettings,
  ) {
    super(options);
  }

  override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
    const host = String(options.hostname ?? options.host ?? 'localhost');
    const port = Number(options.port ?? 443);
    const proxy = this.proxy.httpsProxy;
    if (proxy === undefined || bypassesProxy(host, port, this.proxy.noProxy) || callback === undefined) {
      return super.createConnection(options, callback);
    }
    const target = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    const proxyName = `${proxy.protocol}//${proxy.host}`;
    const headers: Record<string, string> = { host: target };
    if (proxy.username !== '') {
      const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
      headers['proxy-authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
    }
    const connectRequest = (proxy.protocol === 'https:' ? httpsRequest : httpRequest)({
      host: proxy.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: proxy.port || (proxy.protocol === 'https:' ? 443 : 80),
      method: 'CONNECT',
      path: target,
      headers,
      agent: false,
    });
    const fail = (error: Error) => callback(error, undefined as unknown as Duplex);
    connectRequest.once('connect', (response: IncomingMessage, socket: Socket) => {
      if (response.statusCode !== 200) {
        socket.destroy();
        fail(new ProxyTunnelError(proxyName, target, response.statusCode));
        return;
      }
      // The tunnel is the transport, so port and path must not reach tls.connect; host stays, as the
      // name the certificate is checked against when there is no SNI name (IP addresses).
      const { port: _port, path: _path, ...tlsOptions } = options as RequestOptions & Record<string, unknown>;
      const servername = typeof tlsOptions.servername === 'string' ? tlsOptions.servername : isIP(host) ? '' : host;
      callback(null, tlsConnect({ ...(tlsOptions as object), host, socket, servername }));
    });
    connectRequest.once('error', (error) => fail(new ProxyTunnelError(proxyName, target, undefined, { cause: error })));
    connectRequest.end();
    return undefined;
  }
}
