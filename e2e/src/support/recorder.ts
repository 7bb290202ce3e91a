import { createServer, type Socket } from 'node:net';

/**
 * The attacker's listener: a TCP server on a loopback address of its own (127.0.0.2 by default, so
 * that nothing the test itself runs on 127.0.0.1 can be mistaken for it). It answers nothing and
 * keeps every connection and every byte, TLS handshakes included: a delegate that connects at all
 * has already lost the property under test, whatever it would have sent next.
 */
export interface Recorder {
  readonly host: string;
  readonly port: number;
  /** `scheme://host:port` of the listener. */
  origin(scheme?: 'http' | 'https'): string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Everything received, connection after connection. */
  bytes(): Buffer;
  close(): Promise<void>;
}

export async function startRecorder(host = '127.0.0.2'): Promise<Recorder> {
  const chunks: Buffer[][] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const mine: Buffer[] = [];
    chunks.push(mine);
    sockets.add(socket);
    socket.on('data', (chunk: Buffer) => mine.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const port = (server.address() as { port: number }).port;
  return {
    host,
    port,
    origin: (scheme = 'https') => `${scheme}://${host}:${port}`,
    get connections() {
      return chunks.length;
    },
    bytes: () => Buffer.concat(chunks.map((c) => Buffer.concat(c))),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
