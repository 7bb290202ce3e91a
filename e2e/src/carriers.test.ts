import { createServer, type Server } from 'node:http';
import { connect, type Socket } from 'node:net';
import { readFile } from 'node:fs/promises';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { runCarrierConformance } from './carriers.conformance.js';
import { createTenant, createToken, eventually, startControlPlane, startDelegate, type ControlPlaneHandle } from './support/cluster.js';
import { createTestCa } from './support/certs.js';
import { freePort } from './support/ports.js';
import { jsonLines, type Proc } from './support/process.js';

const wsUrl = (cp: ControlPlaneHandle) => cp.httpUrl.replace(/^http/, 'ws');

runCarrierConformance('grpc', (cp) => cp.grpcUrl);
runCarrierConformance('websocket', wsUrl);

describe('ATTACHE_URL lists', () => {
  let cp: ControlPlaneHandle | undefined;
  let delegate: Proc | undefined;

  afterEach(async () => {
    await delegate?.stop(2_000);
    await cp?.stop();
  });

  it('a dead entry is skipped, and a lost control plane sends the delegate on along the list', async () => {
    cp = await startControlPlane();
    const tenant = await createTenant(cp, 'lists');
    const { token } = await createToken(tenant);
    const dead = `ws://127.0.0.1:${await freePort()}`;
    delegate = await startDelegate(tenant, { url: `${dead},${cp.grpcUrl},${wsUrl(cp)}`, token, name: 'listed' });
    const first = (await tenant.api.get('/v1/delegates')).body.items.find((d: any) => d.name === 'listed');
    expect(first.transport).toBe('grpc');
    // A restart drops the gRPC stream: the next URL tried is the WebSocket one (then round again
    // while the control plane is still coming up), and the delegate gets back in.
    await cp.restart('SIGKILL');
    await eventually(async () => {
      const d = (await tenant.api.get('/v1/delegates')).body.items.find((x: any) => x.name === 'listed' && x.status === 'connected');
      return d && Date.parse(d.connectedAt) > Date.parse(first.connectedAt) ? d : undefined;
    }, 20_000, 'the delegate to reconnect');
    const tried = jsonLines(delegate)
      .filter((l) => l['msg'] === 'disconnected; reconnecting')
      .map((l) => l['next']);
    const list = [dead, cp.grpcUrl, wsUrl(cp)].map((u) => new URL(u).href);
    // After the dead first entry the gRPC one; after losing gRPC the WebSocket one; then round again.
    expect(tried.length).toBeGreaterThanOrEqual(2);
    tried.forEach((next, i) => expect(next).toBe(list[(i + 1) % list.length]));
  });
});

/** A minimal HTTP CONNECT proxy, like the egress proxies delegates meet in locked-down networks. */
class ConnectProxy {
  readonly tunnels: string[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly server: Server = createServer((_req, res) => res.writeHead(405).end());

  async start(): Promise<string> {
    this.server.on('connect', (req, client: Socket, head: Buffer) => {
      const target = req.url ?? '';
      this.tunnels.push(target);
      const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
      const upstream = connect(port, host, () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        if (head.length > 0) upstream.write(head);
        upstream.pipe(client);
        client.pipe(upstream);
      });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
        s.on('close', () => this.sockets.delete(s));
      }
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe('WebSocket carrier through an HTTP CONNECT proxy', () => {
  let cp: ControlPlaneHandle | undefined;
  let proxy: ConnectProxy | undefined;
  let delegate: Proc | undefined;
  let ingress: TlsServer | undefined;

  afterEach(async () => {
    await delegate?.stop(2_000);
    await new Promise((resolve) => (ingress ? ingress.close(resolve) : resolve(undefined)));
    ingress = undefined;
    await proxy?.stop();
    await cp?.stop();
  });

  it('registers and runs work through the tunnel', async () => {
    cp = await startControlPlane();
    proxy = new ConnectProxy();
    const proxyUrl = await proxy.start();
    const tenant = await createTenant(cp, 'proxied');
    const { token } = await createToken(tenant);
    const url = wsUrl(cp);
    delegate = await startDelegate(tenant, {
      url,
      token,
      name: 'behind-proxy',
      // Both spellings, as a manifest would set them; NO_PROXY empty so loopback is not exempt.
      env: { HTTP_PROXY: proxyUrl, HTTPS_PROXY: proxyUrl, NO_PROXY: '' },
    });
    expect(proxy.tunnels).toContain(new URL(url).host);
    const listed = (await tenant.api.get('/v1/delegates')).body.items.find((d: any) => d.name === 'behind-proxy');
    expect(listed.transport).toBe('websocket');
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'tunnelled' }, selectors: ['behind-proxy'] });
    const done = await tenant.api.get(`/v1/tasks/${created.body.id}?waitSeconds=20`);
    expect(done.body).toMatchObject({ state: 'succeeded', result: { message: 'tunnelled' } });
  });

  it('wss:// through the proxy to a TLS-terminating ingress, trusting ATTACHE_CA_FILE', async () => {
    cp = await startControlPlane();
    proxy = new ConnectProxy();
    const proxyUrl = await proxy.start();
    // The ingress in front of the control plane: TLS with a private CA, then plain bytes to the API port.
    const ca = await createTestCa('ingress');
    const server = await ca.issueServer('ingress');
    const apiPort = Number(new URL(cp.httpUrl).port);
    ingress = createTlsServer({ cert: server.cert, key: await readFile(server.keyFile) }, (tlsSocket) => {
      const upstream = connect(apiPort, '127.0.0.1');
      tlsSocket.pipe(upstream).pipe(tlsSocket);
      tlsSocket.on('error', () => upstream.destroy());
      upstream.on('error', () => tlsSocket.destroy());
    });
    await new Promise<void>((resolve) => ingress!.listen(0, '127.0.0.1', resolve));
    const ingressPort = (ingress.address() as { port: number }).port;

    const tenant = await createTenant(cp, 'tls-proxied');
    const { token } = await createToken(tenant);
    delegate = await startDelegate(tenant, {
      url: `wss://localhost:${ingressPort}`,
      token,
      name: 'wss-behind-proxy',
      env: { HTTPS_PROXY: proxyUrl, ATTACHE_CA_FILE: ca.caCertFile },
    });
    expect(proxy.tunnels).toEqual([`localhost:${ingressPort}`]);
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'sealed tunnel' }, selectors: ['wss-behind-proxy'] });
    expect((await tenant.api.get(`/v1/tasks/${created.body.id}?waitSeconds=20`)).body.state).toBe('succeeded');
  });

  it('goes direct when NO_PROXY names the host', async () => {
    cp = await startControlPlane();
    proxy = new ConnectProxy();
    const proxyUrl = await proxy.start();
    const tenant = await createTenant(cp, 'bypass');
    const { token } = await createToken(tenant);
    delegate = await startDelegate(tenant, {
      url: wsUrl(cp),
      token,
      name: 'direct',
      env: { HTTP_PROXY: proxyUrl, NO_PROXY: 'localhost,127.0.0.1' },
    });
    expect(proxy.tunnels).toEqual([]);
  });
});
