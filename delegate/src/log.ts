import { pino, type Logger, type DestinationStream } from 'pino';
import type { Masker } from './masking.js';

export type { Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  level?: LogLevel;
  /** Every serialised line passes through it, so no code path can log a registered secret. */
  masker: Masker;
  /** Defaults to stdout; tests pass a stream to capture lines. */
  destination?: DestinationStream;
}

/** JSON logs (pino); masking happens on the final serialised line rather than per call site. */
export function createLogger(options: LoggerOptions): Logger {
  const { masker } = options;
  return pino(
    {
      name: 'attache-delegate',
      level: options.level ?? 'info',
      // ISO time, like the control plane's logs, so the two interleave readably.
      timestamp: pino.stdTimeFunctions.isoTime,
      hooks: { streamWrite: (line) => masker.mask(line) },
      // The token travels in a header; redact it should any object carrying it ever be logged.
      redact: { paths: ['token', '*.token', 'authorization', '*.authorization'], censor: '***' },
    },
    options.destination ?? pino.destination(1),
  );
}
