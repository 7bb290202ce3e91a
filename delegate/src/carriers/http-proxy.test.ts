import { createServer, type Server } from 'node:http';
import { connect, createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CarrierError } from './carrier.js';
import { bypassesProxy, openTunnel, proxyFor } from './http-proxy.js';

describe('proxyFor', () => {
  const ws = new URL('ws://cp.example.com:8080/v1/delegate/connect');
  const wss = new URL('wss://cp.example.com');

  it('takes HTTPS_PROXY for wss and HTTP_PROXY for ws, lower case first, bare host:port as http', () => {
    expect(proxyFor(wss, { HTTPS_PROXY: 'http://proxy:3128' })?.href).toBe('http://proxy:3128/');
    expect(proxyFor(wss, { HTTP_PROXY: 'http://proxy:3128' })).toBeUndefined();
    expect(proxyFor(ws, { HTTP_PROXY: 'proxy:3128' })?.href).toBe('http://proxy:3128/');
    expect(proxyFor(ws, { http_proxy: 'http://lower:1', HTTP_PROXY: 'http://upper:1' })?.host).toBe('lower:1');
    expect(() => proxyFor(ws, { HTTP_PROXY: 'socks5://proxy:1080' })).toThrow(CarrierError);
  });

  it('honours NO_PROXY: domains with subdomains, ports, wildcards and IP literals', () => {
    expect(bypassesProxy(wss, 'example.com')).toBe(true);
    expect(bypassesProxy(wss, '.example.com')).toBe(true);
    expect(bypassesProxy(wss, '*.example.com')).toBe(true);
    expect(bypassesProxy(wss, 'ample.com')).toBe(false);
    expect(bypassesProxy(wss, 'cp.example.com:443')).toBe(true);
    expect(bypassesProxy(ws, 'cp.example.com:443')).toBe(false);
    expect(bypassesProxy(ws, 'other, *')).toBe(true);
    expect(bypassesProxy(new URL('ws://[::1]:8080'), '::1')).toBe(true);
    expect(bypassesProxy(new URL('ws://[::1]:8080'), '[::1]:8080')).toBe(true);
    expect(bypassesProxy(new URL('ws://127.0.0.1:8080'), 'localhost 127.0.0.1')).toBe(true);
    expect(proxyFor(ws, { HTTP_PROXY: 'http://proxy:3128', NO_PROXY: 'example.com' })).toBeUndefined();
  });
});

describe('openTunnel against a real CONNECT proxy', () => {
  let proxy: Server | undefined;
  let echo: TcpServer | undefined;

  afterEach(async () => {
    for (const s of [proxy, echo]) await new Promise((r) => (s ? s.close(r) : r(undefined)));
    proxy = echo = undefined;
  });

  const listen = async (server: Server | TcpServer) => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return (server.address() as { port: number }).port;
  };

  it('tunnels bytes both ways and sends proxy credentials from the URL', async () => {
    echo = createTcpServer((s) => s.pipe(s));
    const echoPort = await listen(echo);
    let auth: string | undefined;
    proxy = createServer();
    proxy.on('connect', (req, client: Socket) => {
      auth = req.headers['proxy-authorization'];
      const upstream = connect(echoPort, '127.0.0.1', () => {
        client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.pipe(client).pipe(upstream);
      });
    });
    const proxyPort = await listen(proxy);
    const socket = await openTunnel({ proxy: new URL(`http://u%40x:p%3Aw@127.0.0.1:${proxyPort}`), host: '127.0.0.1', port: echoPort });
    socket.write('ping');
    const [data] = (await new Promise((resolve) => socket.once('data', (d) => resolve([d])))) as [Buffer];
    expect(data.toString()).toBe('ping');
    expect(auth).toBe(`Basic ${Buffer.from('u@x:p:w').toString('base64')}`);
    socket.destroy();
  });

  it('names the status when the proxy refuses, with a hint for 407', async () => {
    proxy = createServer();
    proxy.on('connect', (_req, client: Socket) => client.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n'));
    const proxyPort = await listen(proxy);
    const err = await openTunnel({ proxy: new URL(`http://127.0.0.1:${proxyPort}`), host: 'cp', port: 443 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CarrierError);
    expect(err).toMatchObject({ kind: 'transient', code: 'PROXY_407' });
    expect((err as Error).message).toMatch(/refused CONNECT cp:443: 407 .*credentials in the proxy URL/);
  });
});
