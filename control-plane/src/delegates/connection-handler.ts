import type { Logger } from 'pino';
import { create } from '@bufbuild/protobuf';
import { ControlFrameSchema, GoodbyeCode, newKeyChallenge, type DelegateFrame } from '@attache/proto';
import type { Bus } from '../bus/bus.js';
import type { DelegateConnection } from '../carriers/carrier.js';
import type { Config } from '../config.js';
import type { Metrics } from '../metrics.js';
import { hashSecret } from '../security/secrets.js';
import type { DelegateToken, Store } from '../store/store.js';
import type { Dispatcher } from '../tasks/dispatcher.js';
import { delegateId } from './delegate-id.js';
import { delegateTags } from '../tasks/eligibility.js';
import { HELLO_LIMITS, validateHello, validTaskRef, type ValidHello } from './hello.js';
import { checkKeyProof } from './key-proof.js';
import { DelegateSession } from './session.js';
import { checkTokenBinding } from './token-binding.js';

const HELLO_TIMEOUT_MS = 10_000;
const SUSPENDED_MESSAGE = 'The tenant was suspended; the operator must resume it before its delegates can connect again.';
const REVOKED_MESSAGE = 'The delegate token this delegate used was revoked; create a new token and restart the delegate with it.';

type Timing = Pick<Config, 'heartbeatIntervalMs' | 'heartbeatTimeoutMs' | 'replicaId' | 'maxDelegatesPerTenant'>;

/**
 * The protocol, carrier-independent: authenticate the token, wait for Hello, register, then route
 * frames to the dispatcher. Anything malformed closes the connection with a Goodbye that says why.
 */
export class ConnectionHandler {
  /**
   * Registered sessions and their connections, checked for missed heartbeats by one shared timer
   * (not one per connection: tens of thousands of idle delegates would mean as many timers).
   */
  private readonly watched = new Map<DelegateSession, DelegateConnection>();
  private watchdog: NodeJS.Timeout | null = null;
  /**
   * Every open connection whose token passed the first check, by token id, from then until it
   * closes: in the handshake (before Hello, between Hello and KeyProof, while registering) and once
   * registered. A revocation closes all of them, whatever phase they are in.
   */
  private readonly byToken = new Map<string, Set<DelegateConnection>>();
  /** The same connections by tenant: a suspension closes all of them. */
  private readonly byTenant = new Map<string, Set<DelegateConnection>>();
  private unsubscribe: Array<() => void> | null = null;

  constructor(
    private readonly store: Store,
    private readonly bus: Bus,
    private readonly dispatcher: Dispatcher,
    private readonly metrics: Metrics,
    private readonly timing: Timing,
    private readonly log: Logger,
  ) {}

  /** Listens for revocations, published by whichever replica served the API call. */
  start(): void {
    this.unsubscribe ??= [
      this.bus.subscribe('token.revoked', (m) => this.closeToken(m.tokenId)),
      this.bus.subscribe('tenant.suspended', (m) => this.closeTenant(m.tenantId)),
    ];
  }

  stop(): void {
    for (const off of this.unsubscribe ?? []) off();
    this.unsubscribe = null;
  }

  /** Closes every connection of the token on this replica, registered or still in the handshake. */
  closeToken(tokenId: string): void {
    for (const connection of [...(this.byToken.get(tokenId) ?? [])]) connection.close({ code: GoodbyeCode.TOKEN_REVOKED, message: REVOKED_MESSAGE });
  }

  /** Closes every connection of the tenant on this replica (the tenant was suspended). */
  closeTenant(tenantId: string): void {
    for (const connection of [...(this.byTenant.get(tenantId) ?? [])]) connection.close({ code: GoodbyeCode.TENANT_SUSPENDED, message: SUSPENDED_MESSAGE });
  }

  private track(token: DelegateToken, connection: DelegateConnection): void {
    for (const [index, key] of [[this.byToken, token.id], [this.byTenant, token.tenantId]] as const) {
      let set = index.get(key);
      if (!set) index.set(key, (set = new Set()));
      set.add(connection);
      connection.onClose(() => {
        set.delete(connection);
        if (set.size === 0 && index.get(key) === set) index.delete(key);
      });
    }
  }

  /**
   * The last word before a connection is registered (after Hello and any KeyProof, before any
   * registration effect: presence row, group keys, re-adopted tasks). The token is read again, since
   * it may have been revoked while the handshake ran and a revocation signal can be lost between
   * replicas, where the store cannot; then its binding decides the group name and tags. A revocation
   * after this point finds the connection tracked, and the checks of `closed` below stop it.
   */
  private async admit(token: DelegateToken, hash: string, h: ValidHello): Promise<{ code: string; message: string } | null> {
    const current = await this.store.findDelegateTokenByHash(hash);
    if (!current || current.revokedAt || current.id !== token.id) return { code: GoodbyeCode.TOKEN_REVOKED, message: REVOKED_MESSAGE };
    const groupIsBound = current.group === null && (await this.store.isDelegateGroupBound(current.tenantId, h.name));
    return checkTokenBinding(current, h.name, h.declaredTags, groupIsBound);
  }

  accept(connection: DelegateConnection): void {
    const pending: DelegateFrame[] = [];
    let session: DelegateSession | null = null;
    let closed = false;
    let processing = Promise.resolve();
    let wake: (() => void) | null = null;

    const helloTimer = setTimeout(() => {
      if (!session) connection.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: `No Hello frame within ${HELLO_TIMEOUT_MS / 1000} s.` });
    }, HELLO_TIMEOUT_MS);
    helloTimer.unref();

    connection.onClose((reason) => {
      closed = true;
      wake?.();
      clearTimeout(helloTimer);
      if (session) {
        const s = session;
        this.watched.delete(s);
        this.metrics.delegateDisconnected(s.transport);
        this.log.info({ delegateId: s.id, tenantId: s.tenantId, name: s.identity.name, reason }, 'delegate disconnected');
        processing = processing.then(() => this.dispatcher.unregister(s, reason)).catch((err) => this.log.error({ err }, 'unregister failed'));
      }
    });

    // Frames are handled strictly in order, one at a time: a Result must never overtake its Accepted.
    const handle = (frame: DelegateFrame): void => {
      processing = processing
        .then(async () => {
          if (closed && frame.frame.case !== 'result') return;
          if (!session) {
            pending.push(frame);
            wake?.();
            return;
          }
          await this.onFrame(session, connection, frame);
        })
        .catch((err) => {
          this.log.error({ err }, 'handling a delegate frame failed');
          connection.close({ code: GoodbyeCode.INTERNAL, message: 'The control plane failed to handle a frame; reconnect.' });
        });
    };
    connection.onFrame(handle);

    void (async () => {
      const hash = connection.token ? hashSecret(connection.token) : null;
      const token = hash ? await this.store.findDelegateTokenByHash(hash) : null;
      if (!hash || !token || token.revokedAt || (connection.tenantId !== undefined && connection.tenantId !== token.tenantId)) {
        this.log.warn({ peer: connection.peer, transport: connection.transport }, 'delegate connection refused: unknown or revoked token');
        connection.reject(
          'UNAUTHENTICATED',
          connection.token ? 'The delegate token is unknown or revoked.' : 'Missing delegate token (authorization: Bearer ...).',
        );
        return;
      }
      const tenant = await this.store.getTenant(token.tenantId);
      if (tenant?.status === 'suspended') {
        this.log.warn({ tenantId: token.tenantId, transport: connection.transport }, 'delegate connection refused: tenant suspended');
        connection.reject('PERMISSION_DENIED', `${GoodbyeCode.TENANT_SUSPENDED}: the tenant "${tenant.name}" is suspended; ask the operator to resume it.`);
        return;
      }
      if (closed) return;
      // From here on a revocation closes this connection at once (admit() covers one that came before).
      this.track(token, connection);
      this.log.debug({ tokenId: token.id, transport: connection.transport }, 'delegate connection authenticated; waiting for Hello');
      /** The next frame of the handshake (Hello, then KeyProof), or null once the connection closed. */
      const nextFrame = async (): Promise<DelegateFrame | null> => {
        while (!closed && pending.length === 0) await new Promise<void>((r) => (wake = r));
        wake = null;
        return closed ? null : (pending.shift() ?? null);
      };
      const hello = await nextFrame();
      if (!hello || closed) return;
      if (hello.frame.case !== 'hello') {
        connection.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: `The first frame must be Hello, got ${hello.frame.case ?? 'an empty frame'}.` });
        return;
      }
      const checked = validateHello(hello.frame.value);
      if (!checked.ok) {
        connection.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: `Invalid Hello: ${checked.problems.join('; ')}.` });
        return;
      }
      const h = checked.value;
      const id = delegateId(token.tenantId, h.name, h.instanceId);
      // A soft limit across replicas (two registering at once may both fit): it bounds what one
      // tenant's token can hold open, not the last connection exactly.
      const connected = await this.store.countConnectedDelegates(token.tenantId, id);
      if (connected >= this.timing.maxDelegatesPerTenant) {
        this.log.warn({ tenantId: token.tenantId, name: h.name, connected, limit: this.timing.maxDelegatesPerTenant }, 'delegate refused: tenant at its delegate limit');
        connection.close({
          code: GoodbyeCode.RESOURCE_EXHAUSTED,
          message: `This tenant already has ${connected} connected delegates, its limit (ATTACHE_MAX_DELEGATES_PER_TENANT=${this.timing.maxDelegatesPerTenant}); the delegate retries with backoff.`,
        });
        return;
      }
      // Announced keys count only once the delegate proves it holds them: before they are published
      // for its group, and before they draw sealed work to it.
      if (h.publicKeys.length > 0) {
        const challenge = newKeyChallenge();
        connection.send(create(ControlFrameSchema, { frame: { case: 'keyChallenge', value: { ephemeralPublicKey: challenge.ephemeralPublicKey } } }));
        const answer = await nextFrame();
        if (!answer || closed) return;
        const proof = checkKeyProof(answer, h.publicKeys, challenge);
        if (!proof.ok) {
          this.log.warn({ tenantId: token.tenantId, name: h.name, keyIds: h.publicKeys.map((k) => k.keyId) }, 'delegate refused: key proof failed');
          connection.close({ code: GoodbyeCode.KEY_PROOF_FAILED, message: proof.message });
          return;
        }
      }
      const refusal = await this.admit(token, hash, h);
      if (closed) return;
      if (refusal) {
        this.log.warn({ tenantId: token.tenantId, tokenId: token.id, name: h.name, code: refusal.code }, 'delegate refused at registration');
        connection.close(refusal);
        return;
      }
      const tags = delegateTags(h.tags, h.name, h.publicKeys.map((k) => k.keyId));
      const s = new DelegateSession(
        { id, tenantId: token.tenantId, tokenId: token.id, ...h, tags },
        connection,
      );
      const now = new Date();
      await this.store.upsertDelegate({
        id: s.id,
        tenantId: s.tenantId,
        tokenId: token.id,
        name: h.name,
        instanceId: h.instanceId,
        tags,
        taskTypes: h.taskTypes,
        maxConcurrency: h.maxConcurrency,
        version: h.version,
        transport: connection.transport,
        status: 'connected',
        inFlight: hello.frame.value.inFlight.length,
        replicaId: this.timing.replicaId,
        sessionId: s.sessionId,
        connectedAt: now,
        lastHeartbeatAt: now,
        disconnectedAt: null,
        policy: h.policy,
      });
      // What GET /v1/delegate-groups/{name}/public-key serves: the keys as the group's delegates announce them.
      if (h.publicKeys.length > 0) {
        const recorded = await this.store.recordGroupKeys(s.tenantId, h.name, h.publicKeys, now);
        const waiting = recorded.filter((k) => !k.trusted).map((k) => k.keyId);
        if (waiting.length > 0) {
          // Not published as the group's current key until a tenant admin trusts it.
          this.log.warn({ tenantId: s.tenantId, group: h.name, keyIds: waiting, delegateId: s.id }, 'delegate announced group keys without any trusted key of its group');
        }
      }
      if (closed) {
        await this.store.endDelegateSession(s.id, s.sessionId, new Date());
        return;
      }
      // Registered (and its in-flight tasks re-adopted) before Welcome: the delegate sends results
      // right after Welcome, and each must find the attempt it belongs to already held here.
      const { stale, lost } = await this.dispatcher.register(s, hello.frame.value.inFlight);
      if (closed) {
        await this.dispatcher.unregister(s, 'connection closed during registration');
        return;
      }
      clearTimeout(helloTimer);
      s.send({
        case: 'welcome',
        value: {
          delegateId: s.id,
          tenantId: s.tenantId,
          heartbeatIntervalMs: this.timing.heartbeatIntervalMs,
          heartbeatTimeoutMs: this.timing.heartbeatTimeoutMs,
        },
      });
      s.welcomed = true;
      session = s;
      this.metrics.delegateConnected(connection.transport);
      this.log.info({ delegateId: s.id, tenantId: s.tenantId, name: h.name, tags: h.tags, transport: connection.transport }, 'delegate registered');
      this.watch(s, connection);
      for (const ref of stale) {
        s.send({ case: 'cancel', value: { taskId: ref.taskId, attempt: ref.attempt, reason: 'task was reassigned while the delegate was away' } });
      }
      for (const task of lost) await this.dispatcher.requeue(task, 'the delegate reconnected without this task');
      // Work only after Welcome: an Assign must never reach a delegate before it knows it is registered.
      this.dispatcher.pump(s);
      // Frames that arrived behind Hello while we registered.
      for (const frame of pending.splice(0)) handle(frame);
    })().catch((err) => {
      this.log.error({ err }, 'delegate registration failed');
      connection.close({ code: GoodbyeCode.INTERNAL, message: 'Registration failed on the control plane; the delegate will retry.' });
    });
  }

  private watch(session: DelegateSession, connection: DelegateConnection): void {
    this.watched.set(session, connection);
    if (this.watchdog) return;
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const [s, c] of this.watched) {
        if (now - s.lastHeartbeatAt.getTime() > this.timing.heartbeatTimeoutMs) {
          this.watched.delete(s);
          c.close({ code: GoodbyeCode.HEARTBEAT_TIMEOUT, message: `No heartbeat for ${this.timing.heartbeatTimeoutMs} ms.` });
        }
      }
    }, Math.min(this.timing.heartbeatIntervalMs, 1_000));
    this.watchdog.unref();
  }

  private async onFrame(session: DelegateSession, connection: DelegateConnection, frame: DelegateFrame): Promise<void> {
    const f = frame.frame;
    switch (f.case) {
      case 'heartbeat': {
        const held = f.value.held;
        if (held.length > HELLO_LIMITS.maxInFlightRefs) return this.protocolError(connection, `Heartbeat lists more than ${HELLO_LIMITS.maxInFlightRefs} held tasks`);
        if (!held.every((ref) => validTaskRef(ref.taskId))) return this.protocolError(connection, 'Heartbeat with an invalid task_id');
        await this.dispatcher.heartbeat(session, f.value.inFlight, f.value.listsHeld ? held : undefined);
        return;
      }
      case 'accepted':
        if (!validTaskRef(f.value.taskId)) return this.protocolError(connection, 'Accepted with an invalid task_id');
        await this.dispatcher.accepted(session, f.value.taskId, f.value.attempt);
        return;
      case 'result':
        if (!validTaskRef(f.value.taskId)) return this.protocolError(connection, 'Result with an invalid task_id');
        await this.dispatcher.result(session, f.value);
        return;
      case 'draining':
        this.log.info({ delegateId: session.id, reason: f.value.reason }, 'delegate draining');
        await this.dispatcher.draining(session);
        return;
      case 'hello':
        return this.protocolError(connection, 'Hello may only be sent once per connection');
      case 'keyProof':
        return this.protocolError(connection, 'KeyProof is only sent in answer to KeyChallenge, once');
      default:
        return this.protocolError(connection, 'empty or unknown frame');
    }
  }

  private protocolError(connection: DelegateConnection, message: string): void {
    connection.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: `Protocol error: ${message}.` });
  }
}

