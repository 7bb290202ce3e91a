import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { delegateServiceDefinition, MAX_FRAME_BYTES, type ControlFrame, type DelegateFrame } from '@attache/proto';
import { echoResult } from './frames.js';
import { summarise, type LatencySummary } from './stats.js';

export interface FloorOptions {
  /** Round trips timed one at a time (the latency floor). */
  pings: number;
  /** Round trips in flight at once for the throughput floor (spread over `streams`). */
  concurrency: number;
  streams: number;
  /** Round trips in the throughput phase. */
  messages: number;
}

export interface FloorResult {
  latency: LatencySummary;
  roundTripsPerSecond: number;
}

const method = delegateServiceDefinition.connect;

/**
 * The floor: the same frames over a bare grpc-js bidi stream between two processes, with none of
 * Attaché in between. Our create→result needs at least one such round trip (Assign out, Result
 * back), so its latency can only approach this, never beat it.
 */
export async function runFloor(opts: FloorOptions): Promise<FloorResult> {
  const server = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./floor-server.ts', import.meta.url))], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('floor server did not start within 20 s')), 20_000);
      server.stdout.on('data', (chunk: Buffer) => {
        const m = /floor listening (\d+)/.exec(chunk.toString());
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      server.once('exit', () => reject(new Error('floor server exited while starting')));
    });
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': MAX_FRAME_BYTES,
      'grpc.max_send_message_length': MAX_FRAME_BYTES,
    });
    const result = echoResult();
    const open = () => {
      const call = client.makeBidiStreamRequest<DelegateFrame, ControlFrame>(method.path, method.requestSerialize, method.responseDeserialize);
      const waiters: Array<() => void> = [];
      call.on('data', () => waiters.shift()?.());
      call.on('error', () => undefined);
      return {
        ping: () =>
          new Promise<void>((resolve) => {
            waiters.push(resolve);
            call.write(result);
          }),
        end: () => call.end(),
      };
    };

    const solo = open();
    for (let i = 0; i < 200; i++) await solo.ping(); // warm-up
    const samples: number[] = [];
    for (let i = 0; i < opts.pings; i++) {
      const t0 = performance.now();
      await solo.ping();
      samples.push(performance.now() - t0);
    }
    solo.end();

    const streams = Array.from({ length: opts.streams }, open);
    let sent = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: opts.concurrency }, async (_, i) => {
        const s = streams[i % streams.length]!;
        while (sent < opts.messages) {
          sent++;
          await s.ping();
        }
      }),
    );
    const rate = opts.messages / ((performance.now() - t0) / 1000);
    for (const s of streams) s.end();
    client.close();
    return { latency: summarise(samples), roundTripsPerSecond: rate };
  } finally {
    server.kill('SIGTERM');
    if (server.exitCode === null) await once(server, 'exit');
  }
}
