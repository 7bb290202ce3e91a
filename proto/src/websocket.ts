/**
 * The WebSocket carrier's vocabulary, shared by the control plane (which serves it) and the
 * delegate (which dials it): where delegates upgrade and the close codes either side acts on.
 */

/** Where delegates upgrade; `ws://host:8080` (no path) means this path on the delegate side too. */
export const WEBSOCKET_CONNECT_PATH = '/v1/delegate/connect';

/**
 * Close codes. The 4xxx range is private to applications (RFC 6455 §7.4.2); the refusal codes mirror
 * HTTP statuses so that a person reading a proxy log recognises them. UNAUTHENTICATED and
 * PERMISSION_DENIED mean the token is refused for good; every other code is retried. A refusal
 * (refusal.ts) closes with the code of the same name.
 */
export const WS_CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  POLICY_VIOLATION: 1008,
  /** The control plane failed while setting the connection up; the delegate retries. */
  INTERNAL_ERROR: 1011,
  UNAUTHENTICATED: 4401,
  PERMISSION_DENIED: 4403,
  RESOURCE_EXHAUSTED: 4429,
} as const;
export type WsCloseCode = (typeof WS_CLOSE)[keyof typeof WS_CLOSE];

/** A close frame's reason is limited to 123 bytes of UTF-8 (125 minus the two-byte code). */
export const MAX_CLOSE_REASON_BYTES = 123;
