/**
 * The scanner and plumbing shared by the canary suites (`canary.test.ts` on SQLite and gRPC,
 * `canary-scale-out.test.ts` on PostgreSQL and NATS): the encodings a leaked secret could take, the
 * scan itself, a recording TCP relay, a silent endpoint, and the delegate CLI as a user runs it.
 */
import { spawn } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './cluster.js';

const DELEGATE_CLI = join(REPO_ROOT, 'delegate/dist/cli.js');

export interface Canary {
  name: string;
  value: string;
}

export interface Haystack {
  where: string;
  bytes: Buffer;
}

export const ENCODING_NAMES = ['raw', 'base64', 'base64url', 'hex', 'HEX'] as const;

/** Raw, base64 (standard and URL-safe, unpadded), and hex (both cases). */
export function encodings(value: string): Buffer[] {
  const raw = Buffer.from(value, 'utf8');
  return [
    raw,
    Buffer.from(raw.toString('base64').replace(/=+$/, '')),
    Buffer.from(raw.toString('base64url')),
    Buffer.from(raw.toString('hex')),
    Buffer.from(raw.toString('hex').toUpperCase()),
  ];
}

/** Every (canary, encoding, haystack) hit, as readable lines; empty when nothing leaked. */
export function findLeaks(haystacks: Haystack[], canaries: Canary[]): string[] {
  const leaks: string[] = [];
  for (const canary of canaries) {
    for (const [i, form] of encodings(canary.value).entries()) {
      for (const hay of haystacks) if (hay.bytes.includes(form)) leaks.push(`${canary.name} (${ENCODING_NAMES[i]}) in ${hay.where}`);
    }
  }
  return leaks;
}

export interface Relay {
  port: number;
  /** What clients sent towards the target: each connection's bytes in order, connections one after another. */
  received(): Buffer;
  /** What the target answered, laid out the same way. */
  sent(): Buffer;
  /** Per connection, so a protocol with framing (WebSocket) can be decoded stream by stream. */
  connections(): Array<{ received: Buffer; sent: Buffer }>;
  close(): Promise<void>;
}

/**
 * A TCP relay in front of a local port that keeps every byte in both directions. Bytes are kept per
 * connection, not in arrival order across connections: interleaved chunks of two connections could
 * split a canary and hide it from a substring scan.
 */
export async function startRelay(targetPort: number): Promise<Relay> {
  const recorded: Array<{ up: Buffer[]; down: Buffer[] }> = [];
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const conn = { up: [] as Buffer[], down: [] as Buffer[] };
    recorded.push(conn);
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      conn.up.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      conn.down.push(chunk);
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const connections = () => recorded.map((c) => ({ received: Buffer.concat(c.up), sent: Buffer.concat(c.down) }));
  return {
    port: (server.address() as { port: number }).port,
    received: () => Buffer.concat(connections().map((c) => c.received)),
    sent: () => Buffer.concat(connections().map((c) => c.sent)),
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The client→server bytes of one recorded connection as a scan must see them. RFC 6455 makes a
 * client XOR every frame payload with a random 4-byte key, so a WebSocket client's raw bytes hide any
 * string from a substring scan; this returns the upgrade request followed by the unmasked payloads.
 * Anything that is not a WebSocket upgrade (plain HTTP) is returned as is. A compressed frame (RSV1,
 * permessage-deflate, off on both sides today) throws rather than pass undecoded: it would blind the scan.
 */
export function clientWebSocketPlaintext(stream: Buffer): Buffer {
  const headerEnd = stream.indexOf('\r\n\r\n');
  const head = headerEnd < 0 ? '' : stream.subarray(0, headerEnd).toString('latin1');
  if (!head.startsWith('GET ') || !/^upgrade: *websocket\s*$/im.test(head)) return stream;
  const out: Buffer[] = [stream.subarray(0, headerEnd + 4)];
  let at = headerEnd + 4;
  while (at + 2 <= stream.length) {
    const b0 = stream[at]!;
    const b1 = stream[at + 1]!;
    if ((b0 & 0x40) !== 0) throw new Error('compressed WebSocket frame (permessage-deflate): the canary scan cannot read it');
    let len = b1 & 0x7f;
    let head = 2;
    if (len === 126) {
      if (at + 4 > stream.length) break;
      len = stream.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (at + 10 > stream.length) break;
      len = Number(stream.readBigUInt64BE(at + 2));
      head = 10;
    }
    const masked = (b1 & 0x80) !== 0;
    const keyAt = at + head;
    const dataAt = keyAt + (masked ? 4 : 0);
    if (dataAt > stream.length) break;
    // A frame cut short by the end of the recording is decoded as far as it goes.
    const data = Buffer.from(stream.subarray(dataAt, Math.min(dataAt + len, stream.length)));
    if (masked) for (let i = 0; i < data.length; i++) data[i]! ^= stream[keyAt + (i % 4)]!;
    out.push(data);
    at = dataAt + len;
  }
  return Buffer.concat(out);
}

/** Accepts connections and never answers: a validation against it runs until cancelled. */
export async function startBlackHole(): Promise<Server> {
  const server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** Runs the delegate CLI (keygen, seal, new-account-id) as a user would, the secret on standard input. */
export function runCli(args: string[], stdin = '', env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DELEGATE_CLI, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve({ stdout, stderr }) : reject(new Error(`attache-delegate ${args[0]} exited ${code}: ${stderr}`))));
    child.stdin.end(stdin);
  });
}
