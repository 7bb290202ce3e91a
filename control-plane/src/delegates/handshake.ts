import type { Logger } from 'pino';
import { create } from '@bufbuild/protobuf';
import { ControlFrameSchema, GoodbyeCode, RefusalCode, newKeyChallenge, type DelegateFrame, type TaskRef } from '@attache/proto';
import type { DelegateConnection } from '../carriers/carrier.js';
import type { Config } from '../config.js';
import type { DelegateToken, Store, TaskRecord } from '../store/store.js';
import { delegateTags } from '../tasks/eligibility.js';
import { delegateId } from './delegate-id.js';
import { DelegateLimit } from './delegate-limit.js';
import { validateHello, type ValidHello } from './hello.js';
import { checkKeyProof } from './key-proof.js';
import { DelegateSession } from './session.js';
import type { Goodbye } from './session-registry.js';
import { checkTokenBinding } from './token-binding.js';
import type { TokenVerifier } from './token-service.js';

export const REVOKED_MESSAGE = 'The delegate token this delegate used was revoked; create a new token and restart the delegate with it.';

type Timing = Pick<Config, 'heartbeatIntervalMs' | 'heartbeatTimeoutMs' | 'replicaId' | 'maxDelegatesPerTenant'> & Partial<Pick<Config, 'delegateBatchItems'>>;

/** The frames of one connection as the handshake reads them: in order, null once it closed. */
export interface HandshakeFrames {
  next(): Promise<DelegateFrame | null>;
  /** True once the connection closed; every step after an await checks it. */
  readonly closed: boolean;
}

export interface HandshakeDeps {
  tokens: TokenVerifier;
  store: Pick<Store, 'findDelegateTokenByHash' | 'isDelegateGroupBound' | 'countConnectedDelegates' | 'upsertDelegate' | 'recordGroupKeys' | 'endDelegateSession'>;
  /** Tracks a connection by token and tenant from the first check on (the session registry). */
  connections: { track(connection: DelegateConnection, owner: { tokenId: string; tenantId: string }): void };
  /** Registers the session and re-adopts its tasks (the lease keeper). */
  leases: {
    register(session: DelegateSession, inFlight: readonly TaskRef[]): Promise<{ stale: TaskRef[]; lost: TaskRecord[] }>;
    unregister(session: DelegateSession, reason: string): Promise<void>;
  };
  timing: Timing;
  log: Logger;
}

/** A welcomed session, with what its reconnect left over: attempts to cancel on it and to requeue. */
export interface Welcomed {
  session: DelegateSession;
  stale: TaskRef[];
  lost: TaskRecord[];
}

/**
 * The protocol's opening, one step at a time: token → Hello → limits → key proof → admission →
 * registration → Welcome. Each step either passes or ends the connection with a Goodbye (or a
 * carrier-level rejection before Hello) that says why; a connection that closes midway stops the
 * handshake at the next step and undoes what registration had done.
 */
export class Handshake {
  private readonly limit: DelegateLimit;

  constructor(private readonly deps: HandshakeDeps) {
    this.limit = new DelegateLimit(deps.store, deps.timing.maxDelegatesPerTenant);
  }

  /** Runs the handshake; the welcomed session, or null when the connection was refused or closed. */
  async run(connection: DelegateConnection, frames: HandshakeFrames): Promise<Welcomed | null> {
    const token = await this.authenticate(connection);
    if (!token || frames.closed) return null;
    // From here on a revocation closes this connection at once (admit() covers one that came before).
    this.deps.connections.track(connection, { tokenId: token.record.id, tenantId: token.record.tenantId });
    this.deps.log.debug({ tokenId: token.record.id, transport: connection.transport }, 'delegate connection authenticated; waiting for Hello');

    const hello = await this.hello(connection, frames);
    if (!hello || frames.closed) return null;
    const id = delegateId(token.record.tenantId, hello.valid.name, hello.valid.instanceId);
    if (!(await this.withinLimit(connection, token.record.tenantId, id, hello.valid.name))) return null;
    if (!(await this.proveKeys(connection, frames, token.record.tenantId, hello.valid))) return null;

    const refusal = await this.admit(token.record, token.hash, hello.valid);
    if (frames.closed) return null;
    if (refusal) {
      this.deps.log.warn({ tenantId: token.record.tenantId, tokenId: token.record.id, name: hello.valid.name, code: refusal.code }, 'delegate refused at registration');
      connection.close(refusal);
      return null;
    }

    const h = hello.valid;
    // Batches each way only as far as both sides take them; without the setting, none (single frames).
    const batchItems = this.deps.timing.delegateBatchItems ?? 0;
    const session = new DelegateSession(
      { id, tenantId: token.record.tenantId, tokenId: token.record.id, ...h, tags: delegateTags(h.tags, h.name, h.publicKeys.map((k) => k.keyId)) },
      connection,
      Math.min(h.maxBatchItems, batchItems),
    );
    await this.record(session, connection, h, hello.inFlight.length);
    if (frames.closed) {
      await this.deps.store.endDelegateSession(session.id, session.sessionId, new Date());
      return null;
    }
    // Registered (and its in-flight tasks re-adopted) before Welcome: the delegate sends results
    // right after Welcome, and each must find the attempt it belongs to already held here.
    const { stale, lost } = await this.deps.leases.register(session, hello.inFlight);
    if (frames.closed) {
      await this.deps.leases.unregister(session, 'connection closed during registration');
      return null;
    }
    session.send({
      case: 'welcome',
      value: {
        delegateId: session.id,
        tenantId: session.tenantId,
        heartbeatIntervalMs: this.deps.timing.heartbeatIntervalMs,
        heartbeatTimeoutMs: this.deps.timing.heartbeatTimeoutMs,
        maxBatchItems: batchItems,
      },
    });
    // False only when a newer connection replaced this one meanwhile: it then takes no work.
    session.transition('registering', 'connected');
    return { session, stale, lost };
  }

  /** Step 1: the token the carrier received, checked before anything else is read. */
  private async authenticate(connection: DelegateConnection): Promise<{ record: DelegateToken; hash: string } | null> {
    const checked = await this.deps.tokens.verify(connection.token, connection.tenantId);
    if (checked.ok) return { record: checked.token, hash: checked.hash };
    if (checked.refusal === 'suspended') {
      this.deps.log.warn({ tenantId: checked.tenant.id, transport: connection.transport }, 'delegate connection refused: tenant suspended');
      connection.reject(RefusalCode.PERMISSION_DENIED, `${GoodbyeCode.TENANT_SUSPENDED}: the tenant "${checked.tenant.name}" is suspended; ask the operator to resume it.`);
      return null;
    }
    this.deps.log.warn({ peer: connection.peer, transport: connection.transport }, 'delegate connection refused: unknown or revoked token');
    connection.reject(RefusalCode.UNAUTHENTICATED, connection.token ? 'The delegate token is unknown or revoked.' : 'Missing delegate token (authorization: Bearer ...).');
    return null;
  }

  /** Step 2: the first frame is a valid Hello. */
  private async hello(connection: DelegateConnection, frames: HandshakeFrames): Promise<{ valid: ValidHello; inFlight: TaskRef[] } | null> {
    const frame = await frames.next();
    if (!frame || frames.closed) return null;
    if (frame.frame.case !== 'hello') {
      connection.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: `The first frame must be Hello, got ${frame.frame.case ?? 'an empty frame'}.` });
      return null;
    }
    const checked = validateHello(frame.frame.value);
    if (!checked.ok) {
      connection.close({ code: GoodbyeCode.PROTOCOL_ERROR, message: `Invalid Hello: ${checked.problems.join('; ')}.` });
      return null;
    }
    return { valid: checked.value, inFlight: frame.frame.value.inFlight };
  }

  /**
   * Step 3: the tenant's delegate limit. A soft limit across replicas (two registering at once may
   * both fit): it bounds what one tenant's token can hold open, not the last connection exactly.
   */
  private async withinLimit(connection: DelegateConnection, tenantId: string, id: string, name: string): Promise<boolean> {
    const limit = this.deps.timing.maxDelegatesPerTenant;
    const { within, connected } = await this.limit.check(tenantId, id);
    if (within) return true;
    this.deps.log.warn({ tenantId, name, connected, limit }, 'delegate refused: tenant at its delegate limit');
    connection.close({
      code: GoodbyeCode.RESOURCE_EXHAUSTED,
      message: `This tenant already has ${connected} connected delegates, its limit (ATTACHE_MAX_DELEGATES_PER_TENANT=${limit}); the delegate retries with backoff.`,
    });
    return false;
  }

  /**
   * Step 4: announced keys count only once the delegate proves it holds them: before they are
   * published for its group, and before they draw sealed work to it.
   */
  private async proveKeys(connection: DelegateConnection, frames: HandshakeFrames, tenantId: string, h: ValidHello): Promise<boolean> {
    if (h.publicKeys.length === 0) return true;
    const challenge = newKeyChallenge();
    connection.send(create(ControlFrameSchema, { frame: { case: 'keyChallenge', value: { ephemeralPublicKey: challenge.ephemeralPublicKey } } }));
    const answer = await frames.next();
    if (!answer || frames.closed) return false;
    const proof = checkKeyProof(answer, h.publicKeys, challenge);
    if (proof.ok) return true;
    this.deps.log.warn({ tenantId, name: h.name, keyIds: h.publicKeys.map((k) => k.keyId) }, 'delegate refused: key proof failed');
    connection.close({ code: GoodbyeCode.KEY_PROOF_FAILED, message: proof.message });
    return false;
  }

  /**
   * Step 5, the last word before any registration effect (presence row, group keys, re-adopted
   * tasks): the token is read again, since it may have been revoked while the handshake ran and a
   * revocation signal can be lost between replicas, where the store cannot; then its binding
   * decides the group name and tags. A revocation after this point finds the connection tracked.
   */
  private async admit(token: DelegateToken, hash: string, h: ValidHello): Promise<Goodbye | null> {
    const current = await this.deps.store.findDelegateTokenByHash(hash);
    if (!current || current.revokedAt || current.id !== token.id) return { code: GoodbyeCode.TOKEN_REVOKED, message: REVOKED_MESSAGE };
    const groupIsBound = current.group === null && (await this.deps.store.isDelegateGroupBound(current.tenantId, h.name));
    return checkTokenBinding(current, h.name, h.declaredTags, groupIsBound);
  }

  /** Step 6: the presence row and the group keys the delegate announced. */
  private async record(session: DelegateSession, connection: DelegateConnection, h: ValidHello, inFlight: number): Promise<void> {
    const now = new Date();
    await this.deps.store.upsertDelegate({
      id: session.id,
      tenantId: session.tenantId,
      tokenId: session.identity.tokenId,
      name: h.name,
      instanceId: h.instanceId,
      tags: session.identity.tags,
      taskTypes: h.taskTypes,
      maxConcurrency: h.maxConcurrency,
      version: h.version,
      transport: connection.transport,
      status: 'connected',
      inFlight,
      replicaId: this.deps.timing.replicaId,
      sessionId: session.sessionId,
      connectedAt: now,
      lastHeartbeatAt: now,
      disconnectedAt: null,
      policy: h.policy,
    });
    // What GET /v1/delegate-groups/{name}/public-key serves: the keys as the group's delegates announce them.
    if (h.publicKeys.length === 0) return;
    const recorded = await this.deps.store.recordGroupKeys(session.tenantId, h.name, h.publicKeys, now);
    const waiting = recorded.filter((k) => !k.trusted).map((k) => k.keyId);
    if (waiting.length > 0) {
      // Not published as the group's current key until a tenant admin trusts it.
      this.deps.log.warn({ tenantId: session.tenantId, group: h.name, keyIds: waiting, delegateId: session.id }, 'delegate announced group keys without any trusted key of its group');
    }
  }
}
