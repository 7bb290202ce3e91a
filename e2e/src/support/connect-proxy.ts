/**
 * A minimal HTTP CONNECT proxy for tests: opens tunnels and records each target, so a test can
 * prove traffic went through it (or did not, under NO_PROXY).
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ConnectProxy {
  /** `http://127.0.0.1:PORT`, for HTTPS_PROXY. */
  readonly url: string;
  /** host:port of every tunnel opened, in order. */
  readonly tunnels: string[];
  stop(): Promise<void>;
}

export async function startConnectProxy(): Promise<ConnectProxy> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      client.off('data', onData);
      const [method, target] = head.subarray(0, end).toString('latin1').split(' ');
      const rest = head.subarray(end + 4);
      const match = /^(.+):(\d+)$/.exec(target ?? '');
      if (method !== 'CONNECT' || !match) {
        client.end('HTTP/1.1 405 Method Not Allowed\r\n\r\n');
        return;
      }
      tunnels.push(target!);
      const upstream = connect(Number(match[2]), match[1]!.replace(/^\[(.*)\]$/, '$1'), () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (rest.length > 0) upstream.write(rest);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
    };
    client.on('data', onData);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    async stop() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
