import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import type { Logger } from 'pino';
import { AppError, ErrorCode } from '../errors.js';
import { hashSecret } from '../security/secrets.js';
import { installAccessControl } from './access/access-control.js';
import type { CredentialSources } from './access/credentials.js';
import { accessOf } from './access/route-access.js';
import { bearer } from './auth.js';
import { AuthFailureLimiter } from './auth-failure-limiter.js';
import { limitConnections, type ConnectionLimits } from './connection-limiter.js';
import { serveConsole } from './console-assets.js';
import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/** Request bodies are small descriptions; anything larger is refused before it is parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpServerOptions {
  log: Logger;
  /** Operator key, API keys, sessions and the metrics token: what access control checks callers against. */
  credentials: CredentialSources;
  rateLimitPerSecond: number;
  /**
   * Failed authentications per client address; shared with the WebSocket carrier, whose upgrades
   * arrive on this server, so a refused delegate token counts like a refused API key.
   */
  authFailures?: AuthFailureLimiter;
  /** Socket-level limits (see Config.http). */
  limits: ConnectionLimits & { headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number };
  /** Unauthenticated probes and metrics. */
  health: { ready: () => Promise<{ ready: boolean; checks: Record<string, string> }>; metrics: () => Promise<{ contentType: string; body: string }> };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The answer carries a new secret (an API key, a token): no cache may keep it. */
    noStore?: boolean;
  }
}

/** Every response: browsers must not guess a content type (a JSON error echoing input is not HTML). */
const NOSNIFF = ['x-content-type-options', 'nosniff'] as const;

/**
 * The REST API (Fastify): authentication and roles for every route (api/access/, one table), failed authentications limited per
 * client address, one error shape everywhere (`{error: {code, message, details}}`), per-key rate
 * limits, a body size limit, and socket limits (header and request timeouts, connection caps).
 */
export async function createHttpServer(options: HttpServerOptions, routes: (app: FastifyInstance) => void): Promise<FastifyInstance> {
  const limits = options.limits;
  const app = Fastify({
    loggerInstance: options.log.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: MAX_BODY_BYTES,
    // One line per request is written by our onResponse hook (method, path without query, status, time).
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    http: {
      headersTimeout: limits.headersTimeoutMs,
      // Node checks both timeouts on this interval (30 s by default, which would let a slow-header
      // connection live far past headersTimeout).
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 2))),
    },
    // Node's own answers to broken or timed-out requests: our error shape, and nosniff like every answer.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return;
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
      // As Node does: answer unless an answer to this request has already begun.
      const inProgress = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
      if (socket.writable && !inProgress?.headersSent) {
        const body = JSON.stringify({
          error: {
            code: ErrorCode.BAD_REQUEST,
            message: status === 408 ? `The request was not received within the server's time limit.` : `The request could not be parsed (${err.code ?? 'malformed'}).`,
            details: {},
          },
        });
        socket.write(
          `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-type: application/json; charset=utf-8\r\n` +
            `${NOSNIFF[0]}: ${NOSNIFF[1]}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
        );
      }
      socket.destroy(err);
    },
    ajv: { customOptions: { removeAdditional: false } },
  });
  limitConnections(app.server, limits);
  const authFailures = options.authFailures ?? new AuthFailureLimiter();
  const isProbe = (request: FastifyRequest): boolean => !request.is404 && accessOf(request.method, request.routeOptions.url ?? '') === 'public';

  // First of all hooks, before the rate limiter and any route logic: an address that has failed
  // authentication too often gets nothing but this answer until its window ends. The probes stay
  // open, so a load balancer that shares the address with the guesser keeps seeing a live server.
  app.addHook('onRequest', async (request, reply) => {
    reply.header(NOSNIFF[0], NOSNIFF[1]);
    if (isProbe(request)) return;
    const refusal = authFailures.refusal(request.ip);
    if (refusal) throw refusal;
  });

  await app.register(rateLimit, {
    global: true,
    max: options.rateLimitPerSecond * 2,
    timeWindow: 2_000,
    // Per credential, not per IP: tenants behind one NAT do not share a budget. Hash: never keep keys.
    keyGenerator: (request) => {
      const token = bearer(request);
      return token ? `k:${hashSecret(token).slice(0, 32)}` : `ip:${request.ip}`;
    },
    allowList: (request) => request.url === '/healthz' || request.url === '/readyz',
    errorResponseBuilder: (_request, context) =>
      new AppError(ErrorCode.RATE_LIMITED, `Too many requests: at most ${context.max} per ${context.after}. Retry after ${context.after}.`, {
        // Seconds, as every other retryAfter: this is also the Retry-After header the error handler sets.
        retryAfter: Math.max(1, Math.ceil(context.ttl / 1000)),
      }),
  });

  serveConsole(app, { log: options.log });
  // Before any route: a route without an access rule fails to register.
  await installAccessControl(app, options.credentials);

  // A request answered before its body was read (413, 401, 404, 429 with a body attached): read and
  // drop the rest first. Closing while the client is still sending makes its TCP stack reset the
  // connection, and the client then never sees the answer. Bodies past the drain budget are cut off.
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header(NOSNIFF[0], NOSNIFF[1]);
    if (request.routeOptions.config?.noStore) reply.header('cache-control', 'no-store');
    await drainRequest(request.raw);
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      { method: request.method, url: request.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  app.setErrorHandler(async (error: FastifyError | AppError, request, reply) => {
    if (error instanceof AppError) {
      // Every failed authentication counts (401: unknown, revoked or expired credentials, failed sign-in).
      if (error.status === 401) authFailures.recordFailure(request.ip);
      const retryAfter = retryAfterSeconds(error);
      if (retryAfter !== null) reply.header('retry-after', String(retryAfter));
      return reply.code(error.status).send({ error: error.toJSON() });
    }
    const status = error.statusCode ?? 500;
    if (status === 413 || error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: { code: ErrorCode.PAYLOAD_TOO_LARGE, message: `The request body is larger than ${MAX_BODY_BYTES} bytes.`, details: { limit: MAX_BODY_BYTES } } });
    }
    if (status === 429) {
      return reply.code(429).send({ error: { code: ErrorCode.RATE_LIMITED, message: 'Too many requests; slow down and retry.', details: {} } });
    }
    if (status >= 400 && status < 500) {
      return reply.code(status === 415 ? 415 : 400).send({
        error: { code: ErrorCode.BAD_REQUEST, message: `The request could not be read: ${error.message}`, details: { fastifyCode: error.code ?? null } },
      });
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send({ error: { code: ErrorCode.INTERNAL, message: 'Internal error; the control plane logged the details.', details: {} } });
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: ErrorCode.NOT_FOUND, message: `No route ${request.method} ${request.url.split('?')[0]}.`, details: {} } }),
  );

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const r = await options.health.ready();
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? 'ready' : 'not ready', checks: r.checks });
  });
  app.get('/metrics', async (_request, reply) => {
    const m = await options.health.metrics();
    return reply.header('content-type', m.contentType).send(m.body);
  });

  routes(app);
  return app;
}

/**
 * The Retry-After of an error, in whole seconds, or null. Rate limits always say when to retry; any
 * other 429 does when it knows (a stream cap, say); a paced handshake step (503 HANDSHAKE_PACED)
 * names its slot in ms, rounded up here so a client that reads only the header is not early.
 */
function retryAfterSeconds(error: AppError): number | null {
  const ms = error.details['retryAfterMs'];
  if (typeof ms === 'number') return Math.max(1, Math.ceil(ms / 1000));
  const seconds = error.details['retryAfter'];
  if (typeof seconds === 'number' && error.status === 429) return seconds;
  const rateLimited = error.code === ErrorCode.RATE_LIMITED || error.code === ErrorCode.AUTH_RATE_LIMITED || error.code === ErrorCode.SIGN_IN_THROTTLED;
  return rateLimited ? 1 : null;
}

/** Oversized bodies up to this size are read to the end (and discarded) so the client gets its 413. */
const DRAIN_MAX_BYTES = 8 * 1024 * 1024;
const DRAIN_TIMEOUT_MS = 5_000;

function drainRequest(req: IncomingMessage): Promise<void> {
  const length = req.headers['content-length'];
  const hasBody = (length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody || req.complete || req.destroyed || Number(length ?? 0) > DRAIN_MAX_BYTES) return Promise.resolve();
  return new Promise((resolve) => {
    let seen = 0;
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seen += chunk.length;
      if (seen > DRAIN_MAX_BYTES) done();
    };
    const timer = setTimeout(done, DRAIN_TIMEOUT_MS);
    req.on('data', onData);
    req.once('end', done);
    req.once('close', done);
    req.once('error', done);
    req.resume();
  });
}
