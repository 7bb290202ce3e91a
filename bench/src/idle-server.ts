/**
 * The idle-cost section's server, in its own process so that its RSS is its own: a bare
 * `net`, `node:http2` or grpc-js server that holds every stream it is given and answers the first
 * frame once, as the control plane answers Hello. argv: kind, JSON options, gRPC method path. Prints its port, then
 * answers each IPC "measure" with its RSS and V8 heap after two full collections.
 */
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { createServer as createHttp2Server, type ServerHttp2Stream, type Settings } from 'node:http2';
import * as grpc from '@grpc/grpc-js';

const [kind = '', optionsJson = '{}', path = '/'] = process.argv.slice(2);
const options = JSON.parse(optionsJson) as Record<string, unknown>;
const held: unknown[] = [];
const ready = (port: number) => process.stdout.write(`idle-server listening ${port}\n`);

if (kind === 'tcp') {
  const server = createTcpServer((socket: Socket) => {
    held.push(socket);
    socket.once('data', () => socket.write('welcome'));
  });
  server.listen(0, '127.0.0.1', () => ready((server.address() as { port: number }).port));
} else if (kind === 'http2') {
  const server = createHttp2Server({ settings: options as Settings });
  server.on('stream', (stream: ServerHttp2Stream) => {
    held.push(stream);
    stream.respond({ ':status': 200 });
    stream.once('data', () => stream.write('welcome'));
    stream.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => ready((server.address() as { port: number }).port));
} else if (kind === 'grpc') {
  const server = new grpc.Server(options as grpc.ServerOptions);
  const bytes = (b: Buffer) => b;
  server.register(
    path,
    (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      held.push(call);
      call.once('data', () => call.write(Buffer.from('welcome')));
      call.on('error', () => undefined);
    },
    bytes,
    bytes,
    'bidi',
  );
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    ready(port);
  });
} else {
  throw new Error(`idle-server: unknown kind ${kind} (tcp, http2, grpc)`);
}

process.on('message', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  setTimeout(() => {
    const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
    process.send?.({ rssKb, heapKb: process.memoryUsage().heapUsed / 1024, held: held.length });
  }, 500);
});
