import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from './agent.js';

/**
 * Liveness endpoint for orchestrators: `GET /healthz` answers 200 with the agent's state while the
 * process is alive and not stopped. It deliberately stays 200 while reconnecting: restarting a
 * delegate because the control plane is down would only add load when it comes back.
 */
export interface HealthServer {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

export async function startHealthServer(
  agent: Pick<Agent, 'state' | 'connected' | 'inFlight'>,
  addr: { host: string; port: number },
): Promise<HealthServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/healthz' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
      return;
    }
    const body = JSON.stringify({ state: agent.state, connected: agent.connected, inFlight: agent.inFlight });
    res.writeHead(agent.state === 'stopped' ? 503 : 200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    address: server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
