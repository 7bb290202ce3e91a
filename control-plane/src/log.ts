import { pino, type Logger } from 'pino';

/**
 * Secret-shaped strings: our own bearer secrets, AWS access key IDs with a following secret, PEM
 * private keys. Anything matching is replaced before a line is written, whatever field it is in.
 */
const SECRET_PATTERNS: RegExp[] = [
  /\bat(?:op|k|d)_[A-Za-z0-9_-]{20,}/g,
  /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /(?<![A-Za-z0-9/+])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/g,
];

/** Every pattern needs at least this many characters: shorter strings (ids, states, codes) pass as they are. */
const SHORTEST_SECRET = 20;

export function scrub(value: string): string {
  if (value.length < SHORTEST_SECRET) return value;
  let out = value;
  for (const pattern of SECRET_PATTERNS) out = out.replace(pattern, '[REDACTED]');
  return out;
}

function scrubDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, depth + 1));
  if (value instanceof Error) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubDeep(v, depth + 1);
  return out;
}

/** Field names whose values are never logged, whatever they look like. */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'authorization',
  'token',
  'apiKey',
  'operatorKey',
  'secretAccessKey',
  'sessionToken',
  'password',
  'clientSecret',
  '*.token',
  '*.apiKey',
  '*.secretAccessKey',
  '*.sessionToken',
  '*.password',
  '*.clientSecret',
];

/**
 * Lines go to stdout asynchronously: a full pipe (a slow log collector) queues them instead of
 * spinning the event loop, which a synchronous write does until the reader catches up. They are
 * flushed at exit; a SIGKILL can lose the last lines not yet written, never state (the store and the
 * audit trail are the record).
 */
/** Past this much not yet written (a collector that stopped reading), new lines are dropped rather than held. */
const MAX_PENDING_LOG_BYTES = 16 * 1024 * 1024;

export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'attache-control-plane', ...base },
    redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
    formatters: { log: (obj) => scrubDeep(obj) as Record<string, unknown> },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as typeof args;
        method.apply(this, scrubbed);
      },
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  }, pino.destination({ dest: 1, sync: false, maxLength: MAX_PENDING_LOG_BYTES }));
}
