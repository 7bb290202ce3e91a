import { z } from 'zod';
import { hostname } from 'node:os';
import { BATCH_LIMITS, DELEGATE_RELEASE } from '@attache/proto';
import { parseSemVer } from './delegates/delegate-release.js';

/**
 * Control-plane configuration, parsed once from the environment at start. Every option has a
 * default that runs the embedded product; the reasons for the defaults are next to them.
 */
const hostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, 'expected host:port, e.g. 0.0.0.0:8080');

const intFrom = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z.object({
  /** REST API, health, readiness and metrics. */
  ATTACHE_HTTP_ADDR: hostPort.default('0.0.0.0:8080'),
  /** Delegate gRPC carrier. */
  ATTACHE_GRPC_ADDR: hostPort.default('0.0.0.0:7443'),
  /** Embedded SQLite database and the generated operator key live here. */
  ATTACHE_DATA_DIR: z.string().min(1).default('./.attache'),
  /**
   * PostgreSQL (postgres://user:password@host:port/database). Set: the store lives there and several
   * replicas can share it. Unset: embedded SQLite in the data dir, for one process.
   */
  ATTACHE_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected postgres://user:password@host:port/database')
    .optional(),
  /** Operator key; when unset one is generated into the data dir (mode 0600) and printed once. */
  ATTACHE_OPERATOR_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  ATTACHE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** TLS for the gRPC carrier (PEM files). Without them gRPC is plaintext: for loopback and tests. */
  ATTACHE_GRPC_TLS_CERT: z.string().optional(),
  ATTACHE_GRPC_TLS_KEY: z.string().optional(),
  /** How often delegates send heartbeats. */
  ATTACHE_HEARTBEAT_INTERVAL_MS: intFrom(100, 60_000).default(5_000),
  /** A delegate silent this long is lost and its tasks are requeued: three missed heartbeats. */
  ATTACHE_HEARTBEAT_TIMEOUT_MS: intFrom(300, 300_000).default(15_000),
  /** An assignment not Accepted within this window goes back to the queue. */
  ATTACHE_ACK_TIMEOUT_MS: intFrom(100, 300_000).default(10_000),
  ATTACHE_RUNNING_WRITE_DELAY_MS: intFrom(0, 60_000).default(250),
  /**
   * Batched delegate frames (proto/src/batch.ts): the most Accepted/Result items this replica takes
   * in one DelegateBatch (announced in Welcome) and Assigns it puts in one AssignBatch to a delegate
   * that takes them. 0 turns batches off both ways: frames go one by one, as to a delegate that
   * predates them.
   */
  ATTACHE_DELEGATE_BATCH_ITEMS: intFrom(0, 1_000).default(BATCH_LIMITS.maxItems),
  /** Attempts per task before it fails for good (a lost delegate costs one attempt). */
  ATTACHE_MAX_ATTEMPTS: intFrom(1, 20).default(3),
  ATTACHE_DEFAULT_QUEUE_TIMEOUT_SECONDS: intFrom(1, 86_400).default(60),
  ATTACHE_DEFAULT_RUN_TIMEOUT_SECONDS: intFrom(1, 86_400).default(300),
  /** Disconnected delegates stay listed this long, so an operator can see what went away. */
  ATTACHE_DISCONNECTED_RETENTION_SECONDS: intFrom(0, 7 * 86_400).default(600),
  /** How often leases, queue timeouts and run timeouts are checked (dispatch itself is event-driven). */
  ATTACHE_SWEEP_INTERVAL_MS: intFrom(50, 60_000).default(500),
  /** Names this process among replicas; defaults to host and pid. */
  ATTACHE_REPLICA_ID: z.string().min(1).max(128).optional(),
  /** Requests per second per API key (token bucket, burst = 2x). */
  ATTACHE_API_RATE_LIMIT: intFrom(1, 1_000_000).default(200),
  /**
   * Connected delegates per tenant, across replicas: one tenant's token cannot exhaust the control
   * plane's connections. A delegate past the limit is refused with RESOURCE_EXHAUSTED and retries.
   */
  ATTACHE_MAX_DELEGATES_PER_TENANT: intFrom(1, 1_000_000).default(10_000),
  /**
   * Delegate handshakes (token check to Welcome) this replica runs at once, on every carrier. One
   * more gets Goodbye RESOURCE_EXHAUSTED with retry_after_ms, a time slot spaced by the measured
   * handshake rate, so a reconnect storm of thousands is admitted at the rate the replica can take
   * instead of every handshake slowing until Welcome times out. 1,000: a handshake spends most of
   * its time waiting for the delegate's frames (Hello, KeyProof) and little of this replica's CPU
   * (about 0.6 ms), so the limit must cover slow links; at 1,000 the queue it admits is still under
   * a second of work, well inside the delegate's 10 s Welcome timeout.
   */
  ATTACHE_MAX_HANDSHAKES_IN_FLIGHT: intFrom(1, 100_000).default(1_000),
  /**
   * Tasks of one tenant that have not ended (queued, assigned or running). Past it, creating a
   * task (POST /v1/tasks, a validation, a policy listing) answers 429 QUOTA_EXCEEDED: one tenant's
   * backlog cannot fill the database or slow every other tenant's claims.
   */
  ATTACHE_MAX_QUEUED_TASKS_PER_TENANT: intFrom(1, 10_000_000).default(10_000),
  /**
   * Bytes of the payloads of those tasks together. 64 MiB: a body is at most 64 KiB, so this still
   * admits a thousand of the largest payloads at once, and 10,000 tasks of 6.7 KiB on average (a
   * validation payload is about 1 KiB), while one tenant's queue stays a small, bounded part of
   * the database and of what claims scan.
   */
  ATTACHE_MAX_QUEUED_PAYLOAD_BYTES_PER_TENANT: intFrom(1024, 2 ** 40).default(64 * 1024 * 1024),
  /**
   * Ended tasks (with their results and errors) are deleted this many days after they ended, so
   * the database stops growing under a steady load.
   */
  ATTACHE_TASK_RETENTION_DAYS: intFrom(1, 36_500).default(30),
  /** How often the retention job runs (it also runs at start). */
  ATTACHE_TASK_RETENTION_INTERVAL_SECONDS: intFrom(1, 86_400).default(3_600),
  /**
   * Audit entries are deleted this many days after they were written (by the task retention's
   * schedule, ATTACHE_TASK_RETENTION_INTERVAL_SECONDS). A year by default: what audits usually ask for.
   */
  ATTACHE_AUDIT_RETENTION_DAYS: intFrom(1, 36_500).default(365),
  /**
   * When set, GET /metrics requires "Authorization: Bearer <this>": task counts and delegate
   * numbers tell an outsider how the service is used. Unset: open, for a scraper on a private network.
   */
  ATTACHE_METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /**
   * Time a client has to send a request's headers. Short (10 s): a connection that trickles its
   * headers holds a socket and parser, and Node's own default (60 s) lets a few thousand of them
   * starve the server.
   */
  ATTACHE_HTTP_HEADERS_TIMEOUT_MS: intFrom(500, 600_000).default(10_000),
  /**
   * Time to receive a whole request (headers and body; bodies are at most 64 KiB). Long-polls
   * (?waitSeconds) are not affected: this bounds the request, not the answer.
   */
  ATTACHE_HTTP_REQUEST_TIMEOUT_MS: intFrom(1_000, 3_600_000).default(30_000),
  /**
   * Idle time a kept-alive connection stays open. 72 s: above the 60 s idle timeout of common load
   * balancers, so they never reuse a connection we are closing (which shows up as 502s).
   */
  ATTACHE_HTTP_KEEP_ALIVE_TIMEOUT_MS: intFrom(1_000, 600_000).default(72_000),
  /**
   * Open HTTP connections in total, and per client address. WebSocket delegates stop counting once
   * upgraded (they are long-lived, and bounded per tenant by ATTACHE_MAX_DELEGATES_PER_TENANT after
   * their token is checked), so many delegates behind one NAT are not cut off. 256 per address
   * leaves room for a busy NAT or proxy while 1,500 slow connections from one host cannot take
   * the server's sockets from everyone else.
   */
  ATTACHE_HTTP_MAX_CONNECTIONS: intFrom(1, 1_000_000).default(10_000),
  ATTACHE_HTTP_MAX_CONNECTIONS_PER_ADDRESS: intFrom(1, 1_000_000).default(256),
  /**
   * NATS server(s), comma-separated (nats://, tls://). Set: replicas signal each other through NATS
   * instead of in-process. Unset: one process, in-process bus.
   */
  ATTACHE_NATS_URL: z.string().min(1).optional(),
  /**
   * Account signing key seed (SA...) for a NATS server in operator mode. Set: the control plane
   * mints its own NATS user and serves delegates over NATS (ATTACHE_URL=nats://...), each with a
   * short-lived user JWT confined to its tenant's subjects. Unset: no NATS carrier, because without
   * server-enforced permissions a delegate could reach other tenants' subjects.
   */
  ATTACHE_NATS_SIGNING_SEED: z.string().regex(/^SA[A-Z2-7]{56}$/, 'expected an account seed (SA...)').optional(),
  /** The account (A...) the signing key belongs to; defaults to the seed's own public key. */
  ATTACHE_NATS_ACCOUNT: z.string().regex(/^A[A-Z2-7]{55}$/, 'expected an account public key (A...)').optional(),
  /** Lifetime of a delegate's NATS user JWT; nats-server disconnects it at expiry and it reconnects. */
  ATTACHE_NATS_CREDENTIALS_TTL_SECONDS: intFrom(30, 86_400).default(900),
  /**
   * The URL people and programs reach the API at (the TLS-terminating proxy's, e.g.
   * https://attache.example.com). https: session cookies are marked Secure. The HTTP listener itself
   * is plain, and X-Forwarded-Proto is not trusted, so this is the one place TLS is declared.
   */
  ATTACHE_PUBLIC_URL: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  /** A session unused this long ends (30 min): a forgotten console tab does not stay signed in. */
  ATTACHE_SESSION_IDLE_SECONDS: intFrom(1, 86_400).default(1_800),
  /** A session ends this long after sign-in whatever its use (12 h): a working day, then sign in again. */
  ATTACHE_SESSION_MAX_SECONDS: intFrom(1, 30 * 86_400).default(43_200),
  /**
   * The delegate release reported versions are measured against: older ones are `outdated` in
   * GET /v1/delegates and in the metrics. Defaults to the release built with this control plane;
   * an operator who pins an older release sets it so that release does not read as outdated.
   */
  ATTACHE_CURRENT_DELEGATE_VERSION: z
    .string()
    .refine((v) => parseSemVer(v) !== null, 'expected a semantic version MAJOR.MINOR.PATCH, e.g. 0.1.0')
    .default(DELEGATE_RELEASE),
  /**
   * Key material (at least 32 characters) that seals tenants' OIDC client secrets in the store.
   * Unset: a random key generated into the data dir (oidc-secret.key, 0600). Replicas sharing a
   * PostgreSQL store must share it: set it on each.
   */
  ATTACHE_OIDC_SECRET_KEY: z.string().min(32, 'expected at least 32 characters of key material').optional(),
  /**
   * Issuer origins that may be plain http (comma-separated, e.g. http://127.0.0.1:9000), for a
   * development identity provider. Every other issuer must be https: the control plane fetches what
   * a tenant admin names, and sends the client secret there.
   */
  ATTACHE_OIDC_INSECURE_ISSUERS: z.string().optional(),
  /** How long a started OIDC sign-in may take to come back (10 min): long enough to log in at the provider. */
  ATTACHE_OIDC_LOGIN_TTL_SECONDS: intFrom(30, 3_600).default(600),
  /** How long the one-time code of a CLI sign-in stays exchangeable (60 s): the CLI exchanges it at once. */
  ATTACHE_OIDC_CLI_CODE_SECONDS: intFrom(5, 600).default(60),
  /**
   * Events (GET /v1/events) each replica keeps per tenant for resuming a stream with Last-Event-ID.
   * A client that was away for longer than this many events, or this many seconds, gets a reset and
   * refetches its lists: memory per tenant stays bounded whatever the task rate.
   */
  ATTACHE_EVENT_BUFFER_SIZE: intFrom(0, 1_000_000).default(10_000),
  ATTACHE_EVENT_BUFFER_SECONDS: intFrom(1, 86_400).default(300),
  /** Open event streams per tenant on one replica; past it, GET /v1/events answers 429 RESOURCE_EXHAUSTED. */
  ATTACHE_EVENT_STREAMS_PER_TENANT: intFrom(1, 100_000).default(50),
  /**
   * Bytes written to one event stream that its client has not read yet. Past it the stream is
   * closed (the client resumes with Last-Event-ID): a slow reader costs this much memory at most.
   */
  ATTACHE_EVENT_STREAM_MAX_PENDING_BYTES: intFrom(4096, 1024 ** 3).default(1024 * 1024),
});

export interface Config {
  httpHost: string;
  httpPort: number;
  grpcHost: string;
  grpcPort: number;
  dataDir: string;
  /** PostgreSQL URL; undefined means SQLite in `dataDir`. */
  databaseUrl: string | undefined;
  operatorKey: string | undefined;
  logLevel: string;
  grpcTls: { certFile: string; keyFile: string } | undefined;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  ackTimeoutMs: number;
  /** An accepted attempt is written as running only once it has run this long (0: at once); see Dispatcher. */
  runningWriteDelayMs: number;
  /** Items per batched delegate frame, either way; 0: single frames only. */
  delegateBatchItems: number;
  maxAttempts: number;
  defaultQueueTimeoutSeconds: number;
  defaultRunTimeoutSeconds: number;
  disconnectedRetentionSeconds: number;
  sweepIntervalMs: number;
  replicaId: string;
  apiRateLimit: number;
  maxDelegatesPerTenant: number;
  maxHandshakesInFlight: number;
  maxQueuedTasksPerTenant: number;
  maxQueuedPayloadBytesPerTenant: number;
  taskRetentionDays: number;
  taskRetentionIntervalSeconds: number;
  auditRetentionDays: number;
  metricsToken: string | undefined;
  http: {
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnections: number;
    maxConnectionsPerAddress: number;
  };
  natsUrl: string | undefined;
  nats: { signingSeed: string | undefined; account: string | undefined; credentialsTtlSeconds: number };
  publicUrl: string | undefined;
  /** Session cookies carry Secure: the public URL is https. */
  secureCookies: boolean;
  sessions: { idleMs: number; absoluteMs: number };
  /** ATTACHE_CURRENT_DELEGATE_VERSION: a valid semantic version. */
  currentDelegateVersion: string;
  oidc: { secretKey: string | undefined; insecureIssuers: string[]; loginTtlMs: number; cliCodeTtlMs: number };
  events: { bufferSize: number; bufferMs: number; streamsPerTenant: number; maxPendingBytes: number };
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

function splitHostPort(value: string): [string, number] {
  const idx = value.lastIndexOf(':');
  const host = value.slice(0, idx).replace(/^\[|\]$/g, '');
  return [host, Number(value.slice(idx + 1))];
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const c = parsed.data;
  const problems: string[] = [];
  if (Boolean(c.ATTACHE_GRPC_TLS_CERT) !== Boolean(c.ATTACHE_GRPC_TLS_KEY)) {
    problems.push('ATTACHE_GRPC_TLS_CERT and ATTACHE_GRPC_TLS_KEY must be set together');
  }
  if (c.ATTACHE_HEARTBEAT_TIMEOUT_MS <= c.ATTACHE_HEARTBEAT_INTERVAL_MS) {
    problems.push('ATTACHE_HEARTBEAT_TIMEOUT_MS must be larger than ATTACHE_HEARTBEAT_INTERVAL_MS');
  }
  const [httpHost, httpPort] = splitHostPort(c.ATTACHE_HTTP_ADDR);
  const [grpcHost, grpcPort] = splitHostPort(c.ATTACHE_GRPC_ADDR);
  if (httpPort > 65535) problems.push('ATTACHE_HTTP_ADDR: port must be at most 65535');
  if (grpcPort > 65535) problems.push('ATTACHE_GRPC_ADDR: port must be at most 65535');
  if (c.ATTACHE_NATS_SIGNING_SEED && !c.ATTACHE_NATS_URL) problems.push('ATTACHE_NATS_SIGNING_SEED needs ATTACHE_NATS_URL');
  if (c.ATTACHE_SESSION_IDLE_SECONDS > c.ATTACHE_SESSION_MAX_SECONDS) {
    problems.push('ATTACHE_SESSION_IDLE_SECONDS must not exceed ATTACHE_SESSION_MAX_SECONDS');
  }
  if (c.ATTACHE_HTTP_MAX_CONNECTIONS_PER_ADDRESS > c.ATTACHE_HTTP_MAX_CONNECTIONS) {
    problems.push('ATTACHE_HTTP_MAX_CONNECTIONS_PER_ADDRESS must not be larger than ATTACHE_HTTP_MAX_CONNECTIONS');
  }
  if (c.ATTACHE_HTTP_REQUEST_TIMEOUT_MS < c.ATTACHE_HTTP_HEADERS_TIMEOUT_MS) {
    problems.push('ATTACHE_HTTP_REQUEST_TIMEOUT_MS must not be shorter than ATTACHE_HTTP_HEADERS_TIMEOUT_MS');
  }
  const insecureIssuers: string[] = [];
  for (const entry of (c.ATTACHE_OIDC_INSECURE_ISSUERS ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const url = URL.canParse(entry) ? new URL(entry) : null;
    if (!url || url.protocol !== 'http:' || url.origin !== entry.replace(/\/$/, '')) {
      problems.push(`ATTACHE_OIDC_INSECURE_ISSUERS: "${entry}" is not an http:// origin (scheme, host and port only)`);
    } else insecureIssuers.push(url.origin);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    httpHost,
    httpPort,
    grpcHost,
    grpcPort,
    dataDir: c.ATTACHE_DATA_DIR,
    databaseUrl: c.ATTACHE_DATABASE_URL,
    operatorKey: c.ATTACHE_OPERATOR_KEY,
    logLevel: c.ATTACHE_LOG_LEVEL,
    grpcTls:
      c.ATTACHE_GRPC_TLS_CERT && c.ATTACHE_GRPC_TLS_KEY
        ? { certFile: c.ATTACHE_GRPC_TLS_CERT, keyFile: c.ATTACHE_GRPC_TLS_KEY }
        : undefined,
    heartbeatIntervalMs: c.ATTACHE_HEARTBEAT_INTERVAL_MS,
    heartbeatTimeoutMs: c.ATTACHE_HEARTBEAT_TIMEOUT_MS,
    ackTimeoutMs: c.ATTACHE_ACK_TIMEOUT_MS,
    runningWriteDelayMs: c.ATTACHE_RUNNING_WRITE_DELAY_MS,
    delegateBatchItems: c.ATTACHE_DELEGATE_BATCH_ITEMS,
    maxAttempts: c.ATTACHE_MAX_ATTEMPTS,
    defaultQueueTimeoutSeconds: c.ATTACHE_DEFAULT_QUEUE_TIMEOUT_SECONDS,
    defaultRunTimeoutSeconds: c.ATTACHE_DEFAULT_RUN_TIMEOUT_SECONDS,
    disconnectedRetentionSeconds: c.ATTACHE_DISCONNECTED_RETENTION_SECONDS,
    sweepIntervalMs: c.ATTACHE_SWEEP_INTERVAL_MS,
    replicaId: c.ATTACHE_REPLICA_ID ?? `${hostname()}-${process.pid}`,
    apiRateLimit: c.ATTACHE_API_RATE_LIMIT,
    maxDelegatesPerTenant: c.ATTACHE_MAX_DELEGATES_PER_TENANT,
    maxHandshakesInFlight: c.ATTACHE_MAX_HANDSHAKES_IN_FLIGHT,
    maxQueuedTasksPerTenant: c.ATTACHE_MAX_QUEUED_TASKS_PER_TENANT,
    maxQueuedPayloadBytesPerTenant: c.ATTACHE_MAX_QUEUED_PAYLOAD_BYTES_PER_TENANT,
    taskRetentionDays: c.ATTACHE_TASK_RETENTION_DAYS,
    taskRetentionIntervalSeconds: c.ATTACHE_TASK_RETENTION_INTERVAL_SECONDS,
    auditRetentionDays: c.ATTACHE_AUDIT_RETENTION_DAYS,
    metricsToken: c.ATTACHE_METRICS_TOKEN,
    http: {
      headersTimeoutMs: c.ATTACHE_HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: c.ATTACHE_HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: c.ATTACHE_HTTP_KEEP_ALIVE_TIMEOUT_MS,
      maxConnections: c.ATTACHE_HTTP_MAX_CONNECTIONS,
      maxConnectionsPerAddress: c.ATTACHE_HTTP_MAX_CONNECTIONS_PER_ADDRESS,
    },
    natsUrl: c.ATTACHE_NATS_URL,
    nats: {
      signingSeed: c.ATTACHE_NATS_SIGNING_SEED,
      account: c.ATTACHE_NATS_ACCOUNT,
      credentialsTtlSeconds: c.ATTACHE_NATS_CREDENTIALS_TTL_SECONDS,
    },
    publicUrl: c.ATTACHE_PUBLIC_URL,
    secureCookies: c.ATTACHE_PUBLIC_URL?.startsWith('https://') ?? false,
    sessions: { idleMs: c.ATTACHE_SESSION_IDLE_SECONDS * 1000, absoluteMs: c.ATTACHE_SESSION_MAX_SECONDS * 1000 },
    currentDelegateVersion: c.ATTACHE_CURRENT_DELEGATE_VERSION,
    oidc: { secretKey: c.ATTACHE_OIDC_SECRET_KEY, insecureIssuers, loginTtlMs: c.ATTACHE_OIDC_LOGIN_TTL_SECONDS * 1000, cliCodeTtlMs: c.ATTACHE_OIDC_CLI_CODE_SECONDS * 1000 },
    events: {
      bufferSize: c.ATTACHE_EVENT_BUFFER_SIZE,
      bufferMs: c.ATTACHE_EVENT_BUFFER_SECONDS * 1000,
      streamsPerTenant: c.ATTACHE_EVENT_STREAMS_PER_TENANT,
      maxPendingBytes: c.ATTACHE_EVENT_STREAM_MAX_PENDING_BYTES,
    },
  };
}
