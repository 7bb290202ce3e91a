import { GoodbyeCode } from '@attache/proto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { AuthFailureLimiter } from './api/auth-failure-limiter.js';
import { createHttpServer } from './api/http-server.js';
import { awsAccountRoutes } from './api/routes/aws-accounts.js';
import { awsPolicyRoutes } from './api/routes/aws-policies.js';
import { gatewayRoutes } from './api/routes/gateways.js';
import { DelegateRelease } from './delegates/delegate-release.js';
import { delegateRoutes } from './api/routes/delegates.js';
import { delegateGroupRoutes } from './api/routes/delegate-groups.js';
import { taskRoutes } from './api/routes/tasks.js';
import { eventRoutes } from './api/routes/events.js';
import { identify } from './api/access/credentials.js';
import { EventHub } from './events/event-hub.js';
import { EventPublisher } from './events/event-publisher.js';
import { delegatePresence } from './events/event-types.js';
import { tenantRoutes } from './api/routes/tenants.js';
import { apiKeyRoutes } from './api/routes/api-keys.js';
import { sessionRoutes } from './api/routes/session.js';
import { userRoutes } from './api/routes/users.js';
import { oidcRoutes } from './api/routes/oidc.js';
import { OidcConfigService } from './identity/oidc-config-service.js';
import { OidcProviderClient } from './identity/oidc-provider-client.js';
import { OidcSignIn } from './identity/oidc-sign-in.js';
import { CliSignIn } from './identity/cli-sign-in.js';
import { SecretBox } from './security/secret-box.js';
import { registeredRoutes, type RegisteredRoute } from './api/access/access-control.js';
import { SessionCookies } from './api/access/session-cookies.js';
import { ApiKeyService } from './identity/api-key-service.js';
import { LoginThrottle } from './identity/login-throttle.js';
import { PasswordHasher } from './identity/password-hasher.js';
import { SessionService } from './identity/session-service.js';
import { UserService } from './identity/user-service.js';
import { delegateConnectRoutes } from './api/routes/delegate-connect.js';
import { openApiRoutes } from './api/routes/openapi.js';
import { AccountService } from './aws/account-service.js';
import { DelegateIdentities } from './aws/delegate-identities.js';
import { PolicyService } from './aws/policy-service.js';
import type { Bus } from './bus/bus.js';
import { MemoryBus } from './bus/memory-bus.js';
import { NatsBus } from './bus/nats-bus.js';
import { NatsCarrierServer } from './carriers/nats-carrier.js';
import { NatsCredentialIssuer } from './carriers/nats-credentials.js';
import { natsCredentialRoutes } from './api/routes/nats-credentials.js';
import { NatsAccountSigner } from './nats/account.js';
import { connectNats } from './nats/connect.js';
import type { CarrierServer } from './carriers/carrier.js';
import { GrpcCarrierServer } from './carriers/grpc-carrier.js';
import { GrpcHealth } from './carriers/grpc-health.js';
import { WebSocketCarrierServer } from './carriers/websocket-carrier.js';
import type { Config } from './config.js';
import { ConnectionHandler } from './delegates/connection-handler.js';
import { HandshakePacer } from './delegates/handshake-pacer.js';
import { Handshake } from './delegates/handshake.js';
import { Presence } from './delegates/presence.js';
import { Revocation } from './delegates/revocation.js';
import { SessionRegistry } from './delegates/session-registry.js';
import { DelegateTokenService } from './delegates/token-service.js';
import { createLogger } from './log.js';
import { Metrics } from './metrics.js';
import { loadOperatorKey } from './security/operator-key.js';
import { secureDataDir } from './security/data-dir.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';
import { CancelRelay } from './tasks/cancel-relay.js';
import { Dispatcher } from './tasks/dispatcher.js';
import { LeaseKeeper } from './tasks/lease-keeper.js';
import { Requeuer } from './tasks/requeue.js';
import { ResultRecorder } from './tasks/result-recorder.js';
import { DelegateExplainer } from './tasks/explainer.js';
import { TaskLifecycle } from './tasks/lifecycle.js';
import { TaskQuota } from './tasks/quota.js';
import { TaskRetention } from './tasks/retention.js';
import { AuditLog } from './audit/audit-log.js';
import { AuditRetention } from './audit/audit-retention.js';
import { taskAuditListener } from './audit/task-audit.js';
import { installAuditTrail } from './api/audit-trail.js';
import { auditRoutes } from './api/routes/audit.js';
import { Sweeper } from './tasks/sweeper.js';
import { TaskService } from './tasks/task-service.js';
import { TaskWaiters } from './tasks/waiters.js';
import { TenantService } from './tenancy/tenant-service.js';
import { ListenError } from './listen-error.js';
import { reasonOf, redactedUrl, StartupError } from './startup-error.js';

/**
 * Pending connections the kernel queues for the API before we accept them (Linux caps it at
 * net.core.somaxconn). Connections past our caps are accepted and closed at once, but a burst of
 * them from one host must not fill Node's default queue of 511 and make other clients' connection
 * attempts wait for a SYN retransmit (a second or more).
 */
const HTTP_LISTEN_BACKLOG = 4096;

export interface RunningControlPlane {
  readonly httpUrl: string;
  readonly grpcAddress: { host: string; port: number };
  readonly operatorKey: string;
  readonly operatorKeyGenerated: boolean;
  /** Where a generated operator key was saved (null when it came from ATTACHE_OPERATOR_KEY). */
  readonly operatorKeyFile: string | null;
  readonly log: Logger;
  /** Every HTTP route with its access level, as Fastify registered it. */
  readonly routes: readonly RegisteredRoute[];
  stop(): Promise<void>;
}

/**
 * The composition root: builds every part from the config and starts the listeners. Nothing else
 * reads configuration or constructs services, so the wiring is all in one place.
 */
export async function startControlPlane(config: Config, log: Logger = createLogger(config.logLevel, { replica: config.replicaId })): Promise<RunningControlPlane> {
  // Also tightens a directory that existed with wider modes, before anything secret is written.
  await secureDataDir(config.dataDir);
  const operator = await loadOperatorKey(config.dataDir, config.operatorKey);
  const store: Store = await openStore(config)
    .then(async (opened) => {
      await opened.migrate();
      return opened;
    })
    .catch((err: unknown) => {
      throw config.databaseUrl
        ? new StartupError('ATTACHE_DATABASE_URL', `Cannot use the PostgreSQL database ${redactedUrl(config.databaseUrl)} (ATTACHE_DATABASE_URL): ${reasonOf(err)}.`, { cause: err })
        : new StartupError('ATTACHE_DATA_DIR', `Cannot open the SQLite store in ${config.dataDir} (ATTACHE_DATA_DIR): ${reasonOf(err)}.`, { cause: err });
    });
  // SQLite's -wal and -shm exist now (created with the database file's 0600); make sure of it.
  await secureDataDir(config.dataDir);
  await store.disconnectReplicaDelegates(config.replicaId, new Date());
  const natsServers = config.natsUrl?.split(',').map((s) => s.trim()).filter(Boolean);
  const natsSigner = config.nats.signingSeed ? new NatsAccountSigner(config.nats.signingSeed, config.nats.account) : undefined;
  const natsLog = log.child({ component: 'nats' });
  const bus: Bus = natsServers
    ? new NatsBus(await connectNats({ servers: natsServers, name: `${config.replicaId} bus`, signer: natsSigner, log: natsLog }), { log: natsLog })
    : new MemoryBus();
  const release = new DelegateRelease(config.currentDelegateVersion);
  const metrics = new Metrics(store, release);
  const lifecycle = new TaskLifecycle(store, bus, metrics, log.child({ component: 'tasks' }));
  lifecycle.observe(new EventPublisher(store, bus, log.child({ component: 'events' })));
  const events = new EventHub(bus, { size: config.events.bufferSize, maxAgeMs: config.events.bufferMs }, config.events.streamsPerTenant);
  // The dispatch path: sessions here, placement, results, leases; each sees the others through a narrow interface.
  const registry = new SessionRegistry();
  // Delegate presence events (connected, draining, disconnected) hook in here: registry.onChange((session, from, to) => ...).
  const presence = new Presence(store, registry, 2 * config.heartbeatTimeoutMs);
  const dispatchLog = log.child({ component: 'dispatcher' });
  const requeuer = new Requeuer(store, lifecycle, metrics, dispatchLog);
  const dispatcher = new Dispatcher({ store, bus, sessions: registry, requeue: requeuer, lifecycle, metrics, timing: config, log: dispatchLog });
  lifecycle.placeWith(dispatcher);
  const results = new ResultRecorder({ store, lifecycle, slots: dispatcher, log: dispatchLog });
  const leases = new LeaseKeeper({ store, sessions: registry, requeue: requeuer, slots: dispatcher, timing: config, log: dispatchLog });
  const cancels = new CancelRelay(bus, registry);
  // Delegate presence on the event stream. A session closed because a newer connection of the same
  // delegate replaced it says nothing: the delegate is still connected.
  registry.onChange((session, _from, to) => {
    const status = to === 'connected' || to === 'draining' ? to : to === 'closed' && registry.get(session.id) === undefined ? 'disconnected' : null;
    if (status) void bus.publish('tenant.event', delegatePresence(session.tenantId, session.identity, status));
  });
  const explainer = new DelegateExplainer(presence, registry);
  const waiters = new TaskWaiters(bus);
  const quota = new TaskQuota(store, config);
  const tasks = new TaskService(store, bus, lifecycle, explainer, waiters, metrics, quota, config, log.child({ component: 'tasks' }));
  const hasher = new PasswordHasher();
  const apiKeys = new ApiKeyService(store, bus);
  const users = new UserService(store.identity, hasher);
  const sessions = new SessionService(store.identity, hasher, new LoginThrottle(store.identity), config.sessions);
  const cookies = new SessionCookies(config.secureCookies);
  const oidcProvider = new OidcProviderClient(config.oidc.insecureIssuers);
  const oidcConfigs = new OidcConfigService(store.oidc, await SecretBox.load(config.dataDir, config.oidc.secretKey), oidcProvider);
  const cliSignIn = new CliSignIn({ store, sessions, codeTtlMs: config.oidc.cliCodeTtlMs });
  const oidcSignIn = new OidcSignIn({
    store,
    configs: oidcConfigs,
    provider: oidcProvider,
    users,
    sessions,
    cli: cliSignIn,
    publicUrl: config.publicUrl,
    loginTtlMs: config.oidc.loginTtlMs,
    log: log.child({ component: 'oidc' }),
  });
  const tenants = new TenantService(store, users, apiKeys, bus);
  const tokens = new DelegateTokenService(store, bus);
  const accounts = new AccountService(store, tasks);
  const policies = new PolicyService(store, tasks, accounts);
  const identities = new DelegateIdentities(store, log.child({ component: 'aws' }));
  lifecycle.onEnded((task) => identities.taskEnded(task));
  const audit = new AuditLog(store.audit, log.child({ component: 'audit' }));
  lifecycle.onEnded(taskAuditListener(store, audit));
  // Last, so an answer to a waiting request goes out after the end is audited.
  lifecycle.onEnded(async (task) => waiters.ended(task));
  const sweeper = new Sweeper({
    store,
    bus,
    holders: registry,
    requeue: requeuer,
    lifecycle,
    explainer,
    intervalMs: config.sweepIntervalMs,
    log: log.child({ component: 'sweeper' }),
  });
  const retention = new TaskRetention(store, {
    retentionDays: config.taskRetentionDays,
    intervalMs: config.taskRetentionIntervalSeconds * 1000,
    log: log.child({ component: 'retention' }),
  });
  const auditRetention = new AuditRetention(store.audit, {
    retentionDays: config.auditRetentionDays,
    intervalMs: config.taskRetentionIntervalSeconds * 1000,
    log: log.child({ component: 'retention' }),
  });
  const delegatesLog = log.child({ component: 'delegates' });
  const handshake = new Handshake({ tokens, store, connections: registry, leases, timing: config, log: delegatesLog });
  const pacer = new HandshakePacer({ maxInFlight: config.maxHandshakesInFlight });
  const handler = new ConnectionHandler({ handshake, pacer, dispatcher, results, leases, requeue: requeuer, store, metrics, timing: config, log: delegatesLog });
  const revocation = new Revocation(bus, registry);
  let accepting = false;
  /** Readiness, for /readyz and the gRPC health service alike. */
  const readiness = async (): Promise<{ ready: boolean; checks: Record<string, string> }> => {
    const checks: Record<string, string> = {};
    try {
      await store.ping();
      checks['store'] = 'ok';
    } catch (err) {
      checks['store'] = `failing: ${(err as Error).message}`;
    }
    checks['carriers'] = accepting ? 'ok' : 'not listening';
    if (bus instanceof NatsBus) checks['bus'] = bus.health.check();
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
  };
  const grpcHealth = new GrpcHealth(readiness, log.child({ component: 'grpc-health' }));
  // One count of failed authentications per address for the API and the delegate carriers it can see.
  const authFailures = new AuthFailureLimiter();
  const carriers: CarrierServer[] = [new GrpcCarrierServer({ host: config.grpcHost, port: config.grpcPort, tls: config.grpcTls, log, health: grpcHealth, authFailures })];
  // Delegates over NATS only with a signing key: their isolation is the server-enforced JWT permissions.
  // Its own pacer, with the same limit: the NATS connect that follows may be served by another
  // replica (a queue group), so no slot can be held from credentials to Welcome, and issuing (a
  // token check and a signature) is far shorter than a handshake, whose measured time spaces the
  // other carriers' retry slots.
  const natsIssuer =
    natsServers && natsSigner
      ? new NatsCredentialIssuer(tokens, natsSigner, config.nats.credentialsTtlSeconds, {
          pacer: new HandshakePacer({ maxInFlight: config.maxHandshakesInFlight }),
          metrics,
        })
      : undefined;
  if (natsServers && natsSigner) {
    const nc = await connectNats({ servers: natsServers, name: `${config.replicaId} delegates`, signer: natsSigner, log: natsLog });
    // Pinged every heartbeat interval while idle: the delegate treats a heartbeat timeout of silence as loss.
    carriers.push(new NatsCarrierServer({ nc, log: natsLog, pingIntervalMs: config.heartbeatIntervalMs }));
  }

  const credentials = { operatorKey: operator.key, metricsToken: config.metricsToken, apiKeys, sessions, cookies };
  const http: FastifyInstance = await createHttpServer(
    {
      log,
      credentials,
      authFailures,
      rateLimitPerSecond: config.apiRateLimit,
      limits: config.http,
      health: {
        ready: readiness,
        metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
      },
    },
    (app) => {
      installAuditTrail(app, { audit, identity: store.identity });
      tenantRoutes(app, tenants);
      sessionRoutes(app, { sessions, cookies });
      userRoutes(app, { users, sessions });
      oidcRoutes(app, { configs: oidcConfigs, signIn: oidcSignIn, cli: cliSignIn, sessions, cookies });
      apiKeyRoutes(app, apiKeys);
      delegateRoutes(app, { tokens, presence, explainer, release, retentionSeconds: config.disconnectedRetentionSeconds });
      taskRoutes(app, { tasks, store });
      eventRoutes(app, {
        hub: events,
        bus,
        maxPendingBytes: config.events.maxPendingBytes,
        stillAuthorized: (request) => identify(request, credentials).then((p) => p !== null, () => false),
      });
      awsAccountRoutes(app, accounts, store);
      awsPolicyRoutes(app, { policies, store, retentionSeconds: config.disconnectedRetentionSeconds });
      gatewayRoutes(app, { store, presence, release, retentionSeconds: config.disconnectedRetentionSeconds });
      delegateGroupRoutes(app, { store });
      auditRoutes(app, store.audit);
      if (natsIssuer) natsCredentialRoutes(app, natsIssuer);
      delegateConnectRoutes(app, { grpcPort: () => carriers[0]!.address().port });
      openApiRoutes(app);
    },
  );

  // Upgrades on the API's own HTTP server, so ws://host:8080 goes through the same ingress as /v1.
  carriers.push(new WebSocketCarrierServer({ server: http.server, authFailures, log }));

  dispatcher.start();
  cancels.start();
  revocation.start();
  for (const carrier of carriers) await carrier.start((connection) => handler.accept(connection));
  accepting = true;
  grpcHealth.start();
  sweeper.start();
  retention.start();
  auditRetention.start();
  await http.listen({ host: config.httpHost, port: config.httpPort, backlog: HTTP_LISTEN_BACKLOG }).catch((err: unknown) => {
    throw new ListenError('the HTTP API', `${config.httpHost}:${config.httpPort}`, 'ATTACHE_HTTP_ADDR', err);
  });
  // The route table, for operators checking what a build serves (and the test that compares it with the OpenAPI document).
  log.debug({ routes: http.printRoutes({ commonPrefix: false }) }, 'HTTP routes');
  const addr = http.server.address();
  const httpPort = typeof addr === 'object' && addr ? addr.port : config.httpPort;
  const shownHost = config.httpHost === '0.0.0.0' || config.httpHost === '::' ? '127.0.0.1' : config.httpHost;
  const grpcAddress = carriers[0]!.address();
  log.info({ http: `${config.httpHost}:${httpPort}`, grpc: `${grpcAddress.host}:${grpcAddress.port}`, store: store.kind, bus: bus.kind }, 'control plane started');

  let stopping: Promise<void> | null = null;
  return {
    httpUrl: `http://${shownHost}:${httpPort}`,
    grpcAddress,
    operatorKey: operator.key,
    operatorKeyGenerated: operator.generated,
    operatorKeyFile: operator.file,
    log,
    routes: registeredRoutes(http),
    stop: () =>
      (stopping ??= (async () => {
        accepting = false;
        grpcHealth.stop();
        sweeper.stop();
        await retention.stop();
        await auditRetention.stop();
        // Tell connected delegates to go elsewhere (or wait) before the listeners close.
        for (const s of registry.local()) s.close(GoodbyeCode.SERVER_SHUTDOWN, 'The control plane is shutting down; reconnect with backoff.');
        dispatcher.stop();
        cancels.stop();
        results.stop();
        revocation.stop();
        handler.stop();
        // Open event streams would keep http.close() waiting.
        events.close();
        await http.close();
        for (const carrier of carriers) await carrier.stop();
        waiters.close();
        await bus.close();
        try {
          await store.disconnectReplicaDelegates(config.replicaId, new Date());
        } catch (err) {
          // The store may be the reason we stop; other replicas' sweepers expire our leases anyway.
          log.warn({ err }, 'could not mark this replica\'s delegates disconnected');
        }
        await store.close();
        log.info('control plane stopped');
      })()),
  };
}
