import { create, toBinary, type DescMessage, type MessageInitShape } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  ControlFrameSchema,
  delegateServiceDefinition,
  MAX_FRAME_BYTES,
  type ControlFrame,
  type DelegateFrame,
  type Hello,
  type Result,
} from '@attache/proto';

/**
 * A compromised control plane: a bare grpc-js server that speaks protocol v1 to a real delegate and
 * assigns whatever task the test hands it. None of the control plane's API-side checks (literal
 * secrets, account schema, routing) stand in the way, so what the delegate then refuses is the
 * delegate's own policy at work.
 */
export interface RogueControlPlane {
  /** `grpc://127.0.0.1:PORT`, for the delegate's ATTACHE_URL. */
  readonly url: string;
  /** The Hello of the delegate connected now; waits for one. */
  hello(timeoutMs?: number): Promise<Hello>;
  /** Every frame any delegate sent, in order. */
  readonly frames: DelegateFrame[];
  /** Assigns one task and resolves with the delegate's Result for it. */
  assign<D extends DescMessage>(type: string, schema: D, payload: MessageInitShape<D>, options?: { timeoutMs?: number }): Promise<Result>;
  close(): Promise<void>;
}

const TENANT_ID = 'tnt_rogue';

export async function startRogueControlPlane(): Promise<RogueControlPlane> {
  const frames: DelegateFrame[] = [];
  let stream: grpc.ServerDuplexStream<DelegateFrame, ControlFrame> | undefined;
  let currentHello: Hello | undefined;
  const helloWaiters: Array<(hello: Hello) => void> = [];
  const resultWaiters = new Map<string, (result: Result) => void>();
  let counter = 0;

  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_FRAME_BYTES });
  server.addService(delegateServiceDefinition, {
    connect(call: grpc.ServerDuplexStream<DelegateFrame, ControlFrame>) {
      call.on('data', (frame: DelegateFrame) => {
        frames.push(frame);
        switch (frame.frame.case) {
          case 'hello': {
            stream = call;
            currentHello = frame.frame.value;
            // No key challenge: a rogue server has no reason to check what the delegate holds.
            call.write(
              create(ControlFrameSchema, {
                frame: { case: 'welcome', value: { delegateId: `dlg_rogue_${++counter}`, tenantId: TENANT_ID, heartbeatIntervalMs: 5_000, heartbeatTimeoutMs: 60_000 } },
              }),
            );
            for (const wake of helloWaiters.splice(0)) wake(frame.frame.value);
            break;
          }
          case 'result': {
            const result = frame.frame.value;
            resultWaiters.get(result.taskId)?.(result);
            resultWaiters.delete(result.taskId);
            break;
          }
          default:
            break;
        }
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );

  return {
    url: `grpc://127.0.0.1:${port}`,
    frames,
    hello(timeoutMs = 20_000) {
      if (currentHello) return Promise.resolve(currentHello);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no delegate said Hello within ${timeoutMs} ms`)), timeoutMs);
        helloWaiters.push((hello) => {
          clearTimeout(timer);
          resolve(hello);
        });
      });
    },
    assign(type, schema, payload, options = {}) {
      if (!stream) return Promise.reject(new Error('no delegate is connected to the rogue control plane'));
      const taskId = `tsk_rogue_${++counter}`;
      const timeoutMs = options.timeoutMs ?? 30_000;
      const result = new Promise<Result>((resolve, reject) => {
        const timer = setTimeout(() => {
          resultWaiters.delete(taskId);
          reject(new Error(`no Result for ${type} task ${taskId} within ${timeoutMs} ms`));
        }, timeoutMs);
        resultWaiters.set(taskId, (r) => {
          clearTimeout(timer);
          resolve(r);
        });
      });
      stream.write(
        create(ControlFrameSchema, {
          frame: {
            case: 'assign',
            value: { taskId, attempt: 1, type, payload: toBinary(schema, create(schema, payload)), deadlineUnixMs: BigInt(Date.now() + timeoutMs) },
          },
        }),
      );
      return result;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2_000).unref();
      }),
  };
}

/** The rogue's tenant, as the delegate learns it from Welcome. */
export const ROGUE_TENANT_ID = TENANT_ID;
