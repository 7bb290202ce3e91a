import { fromBinary, toBinary, create } from '@bufbuild/protobuf';
import { echo } from '@attache/proto';
import type { Executor } from './executor.js';

/**
 * `echo`: returns its message, optionally after a delay. Exercises the whole task path (routing,
 * leases, cancellation, deadlines) without touching any customer system: health checks and benchmarks.
 */
export const echoExecutor: Executor = {
  type: 'echo',
  async run(payload, ctx) {
    const { message, delayMs } = fromBinary(echo.EchoPayloadSchema, payload);
    if (delayMs > 0) await abortableDelay(delayMs, ctx.signal);
    ctx.signal.throwIfAborted();
    return toBinary(echo.EchoResultSchema, create(echo.EchoResultSchema, { message }));
  },
};

function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
