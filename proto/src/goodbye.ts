/**
 * Stable Goodbye codes (ControlFrame.goodbye.code), the vocabulary both sides share: the control
 * plane closes with them, the delegate decides from them whether to reconnect.
 */
export const GoodbyeCode = {
  /** The delegate token was revoked: the token will never be accepted again. */
  TOKEN_REVOKED: 'TOKEN_REVOKED',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /**
   * The token is bound to a delegate group and Hello named another, or Hello named a group that a
   * bound token of the tenant owns and this token is not bound to it: a configuration error.
   */
  GROUP_NOT_ALLOWED: 'GROUP_NOT_ALLOWED',
  /** The token is bound to a set of tags and Hello declared tags outside it: a configuration error. */
  TAGS_NOT_ALLOWED: 'TAGS_NOT_ALLOWED',
  SERVER_SHUTDOWN: 'SERVER_SHUTDOWN',
  PROTOCOL_ERROR: 'PROTOCOL_ERROR',
  KEY_PROOF_FAILED: 'KEY_PROOF_FAILED',
  RESOURCE_EXHAUSTED: 'RESOURCE_EXHAUSTED',
  HEARTBEAT_TIMEOUT: 'HEARTBEAT_TIMEOUT',
  REPLACED: 'REPLACED',
  SESSION_REPLACED: 'SESSION_REPLACED',
  UNAVAILABLE: 'UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type GoodbyeCode = (typeof GoodbyeCode)[keyof typeof GoodbyeCode];
