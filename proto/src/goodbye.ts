/**
 * Stable Goodbye codes (ControlFrame.goodbye.code), the vocabulary both sides share: the control
 * plane closes with them, the delegate decides from them whether to reconnect. Every code the
 * control plane sends is listed here and in delegate.proto's Goodbye comment (goodbye.test.ts
 * checks both against the control plane's source).
 */
export const GoodbyeCode = {
  /** The delegate token was revoked: the token will never be accepted again. Fatal. */
  TOKEN_REVOKED: 'TOKEN_REVOKED',
  /** The token is unknown: reconnecting with it is pointless. Fatal. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /**
   * The token is bound to a delegate group and Hello named another, or Hello named a group that a
   * bound token of the tenant owns and this token is not bound to it: a configuration error.
   */
  GROUP_NOT_ALLOWED: 'GROUP_NOT_ALLOWED',
  /** The token is bound to a set of tags and Hello declared tags outside it: a configuration error. */
  TAGS_NOT_ALLOWED: 'TAGS_NOT_ALLOWED',
  /** The operator suspended the tenant: its delegates are refused until it is resumed. */
  TENANT_SUSPENDED: 'TENANT_SUSPENDED',
  /** The control-plane replica is shutting down; reconnect (to another replica) with backoff. */
  SERVER_SHUTDOWN: 'SERVER_SHUTDOWN',
  /** The delegate broke the protocol (no or invalid Hello, undecodable frame); reconnect after a fix. */
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  /** The delegate announced a group key in Hello and could not prove it holds the private half. */
  KEY_PROOF_FAILED: 'KEY_PROOF_FAILED',
  /**
   * The tenant is at its limit of connected delegates (the delegate retries with backoff), or the
   * replica already runs its limit of handshakes, ATTACHE_MAX_HANDSHAKES_IN_FLIGHT (a reconnect storm
   * being paced: Goodbye.retry_after_ms says when to come back, and the delegate adds jitter).
   */
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  /** No heartbeat within the heartbeat timeout Welcome announced; the delegate reconnects. */
  HEARTBEAT_TIMEOUT: 'HEARTBEAT_TIMEOUT',
  /** A newer connection of the same delegate instance took over this one. */
  REPLACED: 'REPLACED',
  /** NATS carrier: a new connect request arrived for the same session subjects. */
  SESSION_REPLACED: 'SESSION_REPLACED',
  /** The control plane lost a dependency the session needs (its NATS connection); reconnect. */
  UNAVAILABLE: 'UNAVAILABLE',
  /**
   * A batch frame (DelegateBatch) carried more items than the control plane's Welcome announced in
   * max_batch_items; the delegate reconnects (a delegate that sends it has a bug).
   */
  BATCH_TOO_LARGE: 'BATCH_TOO_LARGE',
  /** The control plane failed to handle a frame or to register the delegate; reconnect. */
  INTERNAL: 'INTERNAL',
} as const;
export type GoodbyeCode = (typeof GoodbyeCode)[keyof typeof GoodbyeCode];

/** Codes after which reconnecting is pointless: the token will not be accepted again. */
export const FATAL_GOODBYE_CODES: ReadonlySet<string> = new Set<GoodbyeCode>([GoodbyeCode.TOKEN_REVOKED, GoodbyeCode.UNAUTHENTICATED]);

/** Codes that refuse the delegate's own configuration for its token: only a configuration change helps. */
export const CONFIGURATION_GOODBYE_CODES: ReadonlySet<string> = new Set<GoodbyeCode>([
  GoodbyeCode.GROUP_NOT_ALLOWED,
  GoodbyeCode.TAGS_NOT_ALLOWED,
]);
