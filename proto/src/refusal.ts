/**
 * Codes a carrier refuses a connection with before any frame is exchanged: the gRPC status, the
 * WebSocket close code of the same name (WS_CLOSE), the NATS `Attache-Status` header. Unlike a
 * Goodbye, a refusal means the connection never became a session.
 */
export const RefusalCode = {
  /** The delegate token is missing, unknown or revoked. Fatal: the same token will be refused again. */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** The token is valid but may not connect (its tenant is suspended). Fatal for the delegate. */
  PERMISSION_DENIED: 'PERMISSION_DENIED',
  /** The control plane is at a connection limit; the delegate retries with backoff. */
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
} as const;
export type RefusalCode = (typeof RefusalCode)[keyof typeof RefusalCode];

/** Refusals after which the delegate stops: reconnecting with the same token is pointless. */
export const FATAL_REFUSAL_CODES: ReadonlySet<string> = new Set<RefusalCode>([RefusalCode.UNAUTHENTICATED, RefusalCode.PERMISSION_DENIED]);
