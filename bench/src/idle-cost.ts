import { fork } from 'node:child_process';
import { once } from 'node:events';
import { connect as connectHttp2 } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import { MAX_FRAME_BYTES } from '@attache/proto';

export interface IdleCostOptions {
  connections: number;
}

export interface IdleCostRow {
  server: 'tcp' | 'http2' | 'grpc';
  /** What differs from the row above it, in words. */
  variant: string;
  /** The server's options as passed (node:http2 settings, or grpc.Server channel options). */
  options: Record<string, unknown>;
  connections: number;
  rssPerConnectionKb: number;
  heapPerConnectionKb: number;
}

const PATH = '/bench.Idle/Connect';
const REPEATS = 3;

/**
 * The same options the control plane's gRPC server is built with (control-plane/src/carriers/
 * grpc-carrier.ts), restated here because that file keeps them inside its constructor; a drift
 * shows as a gap between this section's grpc row and the connections section's.
 */
const CONTROL_PLANE_GRPC: Record<string, unknown> = {
  'grpc.max_receive_message_length': MAX_FRAME_BYTES,
  'grpc.max_send_message_length': MAX_FRAME_BYTES,
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.http2.min_ping_interval_without_data_ms': 5_000,
  'grpc.max_connection_age_grace_ms': 30_000,
  'grpc.enable_channelz': 0,
};

/** Each variant changes one thing, so each row says what that one change buys. */
const VARIANTS: Array<Omit<IdleCostRow, 'connections' | 'rssPerConnectionKb' | 'heapPerConnectionKb'>> = [
  { server: 'tcp', variant: 'a bare TCP socket (the floor under any carrier)', options: {} },
  { server: 'http2', variant: 'node:http2, default settings', options: {} },
  { server: 'http2', variant: 'node:http2, small windows and tables', options: { initialWindowSize: 16_384, headerTableSize: 0, maxConcurrentStreams: 2, maxHeaderListSize: 8_192 } },
  { server: 'grpc', variant: "grpc-js with the control plane's options", options: CONTROL_PLANE_GRPC },
  { server: 'grpc', variant: '+ grpc.max_concurrent_streams 2', options: { ...CONTROL_PLANE_GRPC, 'grpc.max_concurrent_streams': 2 } },
  { server: 'grpc', variant: '+ grpc-node.max_session_memory 1 MB', options: { ...CONTROL_PLANE_GRPC, 'grpc-node.max_session_memory': 1 } },
  { server: 'grpc', variant: '+ no server keepalive (delegate pings and heartbeats stay)', options: { ...CONTROL_PLANE_GRPC, 'grpc.keepalive_time_ms': 2 ** 31 - 1 } },
];

/**
 * What one idle connection costs a server, below the control plane: N clients from this process
 * hold one stream each against a bare server process, and the server's RSS and V8 heap are read
 * after two full collections, before and after. Separates the transport's floor (TCP, node:http2,
 * grpc-js) from what the control plane's session adds, and measures each HTTP/2 option alone.
 */
export async function runIdleCost(opts: IdleCostOptions, log: (s: string) => void): Promise<IdleCostRow[]> {
  const rows: IdleCostRow[] = [];
  for (const v of VARIANTS) {
    // The median of three: one sample moves by several KB with the allocator's and the heap's growth steps.
    const samples: Array<{ rssPerConnectionKb: number; heapPerConnectionKb: number }> = [];
    for (let i = 0; i < REPEATS; i++) samples.push(await measure(v.server, v.options, opts.connections));
    samples.sort((a, b) => a.rssPerConnectionKb - b.rssPerConnectionKb);
    const row = { ...v, connections: opts.connections, ...samples[Math.floor(REPEATS / 2)]! };
    log(`  ${v.server} ${v.variant}: ${row.rssPerConnectionKb.toFixed(1)} KB RSS per connection (${row.heapPerConnectionKb.toFixed(1)} KB of it V8 heap)`);
    rows.push(row);
  }
  return rows;
}

interface Sample {
  rssKb: number;
  heapKb: number;
  held: number;
}

async function measure(kind: IdleCostRow['server'], options: Record<string, unknown>, n: number): Promise<{ rssPerConnectionKb: number; heapPerConnectionKb: number }> {
  const server = fork(fileURLToPath(new URL('./idle-server.ts', import.meta.url)), [kind, JSON.stringify(options), PATH], {
    execArgv: ['--import', 'tsx', '--expose-gc'],
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  const closers: Array<() => void> = [];
  try {
    const port = await new Promise<number>((resolve, reject) => {
      server.stdout?.on('data', (d: Buffer) => {
        const m = /idle-server listening (\d+)/.exec(d.toString());
        if (m) resolve(Number(m[1]));
      });
      server.once('exit', (code) => reject(new Error(`idle-server (${kind}) exited with ${code} before listening`)));
    });
    const sample = async (): Promise<Sample> => {
      server.send('measure');
      const [m] = (await once(server, 'message')) as [Sample];
      return m;
    };
    await sleep(500);
    const before = await sample();
    const batch = 200;
    for (let i = 0; i < n; i += batch) {
      const answered: Array<Promise<void>> = [];
      for (let j = i; j < Math.min(n, i + batch); j++) answered.push(open(kind, port, j, closers));
      await Promise.all(answered);
    }
    await sleep(2_000);
    const after = await sample();
    if (after.held < n) throw new Error(`idle-server (${kind}) holds ${after.held} of ${n} connections`);
    return { rssPerConnectionKb: (after.rssKb - before.rssKb) / n, heapPerConnectionKb: (after.heapKb - before.heapKb) / n };
  } finally {
    for (const close of closers) close();
    server.kill('SIGKILL');
  }
}

/** One client connection holding one stream; resolves when the server's first answer arrives. */
function open(kind: IdleCostRow['server'], port: number, i: number, closers: Array<() => void>): Promise<void> {
  if (kind === 'tcp') {
    const socket = connectTcp(port, '127.0.0.1', () => socket.write('hello'));
    closers.push(() => socket.destroy());
    return once(socket, 'data').then(() => undefined);
  }
  if (kind === 'http2') {
    const session = connectHttp2(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    const stream = session.request({ ':method': 'POST', ':path': PATH }, { endStream: false });
    stream.on('error', () => undefined);
    stream.write('hello');
    closers.push(() => session.destroy());
    return once(stream, 'data').then(() => undefined);
  }
  // A keepalive that differs per client keeps grpc-js from sharing one connection between them.
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.keepalive_time_ms': 20_000 + i });
  const bytes = (b: Buffer) => b;
  const call = client.makeBidiStreamRequest(PATH, bytes, bytes);
  call.on('error', () => undefined);
  call.write(Buffer.from('hello'));
  closers.push(() => {
    call.cancel();
    client.close();
  });
  return once(call, 'data').then(() => undefined);
}
