import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpPortHint } from './grpc-port-hint.js';

describe('httpPortHint: a grpc:// URL that reached an HTTP/1 server', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  const serve = (status: number, body: string): Promise<number> => {
    server = createServer((_req, res) => res.writeHead(status, { 'content-type': 'application/json' }).end(body));
    return new Promise((resolve) => server!.listen(0, '127.0.0.1', () => resolve((server!.address() as AddressInfo).port)));
  };

  it("names the gRPC port the control plane's 426 gives", async () => {
    const port = await serve(426, JSON.stringify({ error: { code: 'UPGRADE_REQUIRED', message: 'x', details: { upgrade: 'websocket', grpcPort: 7443 } } }));
    expect(await httpPortHint(new URL(`grpc://127.0.0.1:${port}`))).toBe(
      `grpc://127.0.0.1:${port} answers HTTP/1.1, not gRPC: this looks like the control plane's HTTP port; the gRPC port is 7443 (try grpc://127.0.0.1:7443, or ws://127.0.0.1:${port} for the WebSocket carrier on this port)`,
    );
  });

  it('says it is some HTTP port when the server is not the control plane', async () => {
    const port = await serve(404, '<html>nope</html>');
    const hint = await httpPortHint(new URL(`grpc://127.0.0.1:${port}`));
    expect(hint).toContain('answers HTTP/1.1 (status 404), not gRPC');
    expect(hint).toContain("the control plane's gRPC port (ATTACHE_GRPC_ADDR");
  });

  it('gives no hint when nothing answers', async () => {
    const port = await serve(200, '');
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;
    expect(await httpPortHint(new URL(`grpc://127.0.0.1:${port}`))).toBeUndefined();
  });
});
