import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { WEBSOCKET_CONNECT_PATH } from '@attache/proto';

const PROBE_TIMEOUT_MS = 3_000;

/**
 * On the control plane's HTTP port a plain GET on the WebSocket carrier's path names the gRPC port.
 * grpc-js reports only "Protocol error" when a grpc:// URL reaches an HTTP/1 server, and the usual
 * cause is the control plane's HTTP port given instead of its gRPC port. This asks that server,
 * over HTTP/1, whether it is the control plane (it answers 426 with its gRPC port) and returns a
 * sentence that says so, or undefined when the server is something else or does not answer.
 */
export async function httpPortHint(url: URL, ca?: string | Buffer): Promise<string | undefined> {
  const tls = url.protocol === 'grpcs:';
  const answer = await new Promise<{ status: number; body: string } | undefined>((resolve) => {
    const req = (tls ? httpsRequest : httpRequest)(
      { host: url.hostname, port: url.port, path: WEBSOCKET_CONNECT_PATH, method: 'GET', timeout: PROBE_TIMEOUT_MS, ...(tls && ca ? { ca } : {}) },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body.length < 16_384 ? (body += chunk) : undefined));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', () => resolve(undefined));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end();
  });
  if (!answer) return undefined;
  const where = `${url.protocol}//${url.host}`;
  let grpcPort: unknown;
  try {
    const parsed = JSON.parse(answer.body) as { error?: { code?: string; details?: { grpcPort?: unknown } } };
    if (answer.status === 426 && parsed.error?.code === 'UPGRADE_REQUIRED') grpcPort = parsed.error.details?.grpcPort;
  } catch {
    // Not the control plane's JSON: the generic sentence below.
  }
  if (typeof grpcPort === 'number') {
    const host = url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname;
    return `${where} answers HTTP/1.1, not gRPC: this looks like the control plane's HTTP port; the gRPC port is ${grpcPort} (try ${url.protocol}//${host}:${grpcPort}, or ${tls ? 'wss' : 'ws'}://${url.host} for the WebSocket carrier on this port)`;
  }
  return `${where} answers HTTP/1.1 (status ${answer.status}), not gRPC: this looks like an HTTP port; point the URL at the control plane's gRPC port (ATTACHE_GRPC_ADDR, 7443 by default)`;
}
