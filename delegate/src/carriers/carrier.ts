import type { ControlFrame, DelegateFrame } from '@attache/proto';

/**
 * The client side of a delegate carrier: one connection to the control plane that carries
 * DelegateFrames out and ControlFrames in. gRPC is the first implementation; WebSocket and NATS
 * carriers implement the same interface and register a URL scheme, so the agent never changes.
 */
export interface Carrier {
  /** Opens one connection. Failures to connect surface through the connection's iteration. */
  open(): CarrierConnection;
  /** Releases shared resources (channels, sockets); called once, when the agent stops for good. */
  close(): void;
}

export interface CarrierConnection extends AsyncIterable<ControlFrame> {
  /**
   * Sends one frame. Resolves once the carrier has taken it (flow control honoured); rejects with
   * a CarrierError when the connection is gone, in which case the frame was not delivered.
   */
  send(frame: DelegateFrame): Promise<void>;
  /** Graceful close: no more frames from this side; iteration ends when the server finishes. */
  close(): void;
  /** Immediate close; pending iteration ends (with the given error when there is one). */
  abort(reason?: Error): void;
  /**
   * The control plane's Welcome says how long it lets a connection stay silent. A carrier whose
   * transport cannot tell that the far side is gone (NATS: the replica's subscription just
   * vanishes) treats that much silence as a lost connection. Others ignore it.
   */
  setSilenceTimeout?(silenceTimeoutMs: number): void;
}

/** Options every carrier receives; carrier-specific knobs stay inside each carrier. */
export interface CarrierOptions {
  /** The delegate's bearer token; each carrier chooses how it travels (header, connect message). */
  token: string;
  /** PEM trust roots for TLS schemes; the system store when absent. */
  ca?: Buffer;
}

export type CarrierFactory = (url: URL, options: CarrierOptions) => Carrier;

export interface CarrierRegistration {
  /** URL scheme without the colon: 'grpc', 'grpcs', 'wss', 'nats'. */
  scheme: string;
  /** Whether the scheme is encrypted; a CA file only makes sense for those. */
  tls: boolean;
  /** Port to assume when the URL has none; undefined makes the port required. */
  defaultPort?: number;
  create: CarrierFactory;
}

/**
 * Why a connection ended abnormally. `kind` is what the agent acts on: `unauthenticated` is fatal
 * (the token will not work on a retry), `transient` is retried with backoff.
 */
export type CarrierErrorKind = 'unauthenticated' | 'transient';

export class CarrierError extends Error {
  readonly kind: CarrierErrorKind;
  /** The carrier's own status name (gRPC: UNAVAILABLE, PERMISSION_DENIED, ...), or the API's code for a refused HTTP step. */
  readonly code: string;
  /**
   * The control plane's hint of when to connect again (a paced or rate-limited NATS credentials
   * call), followed like a Goodbye's retry_after_ms; 0 when it gave none.
   */
  readonly retryAfterMs: number;

  constructor(kind: CarrierErrorKind, code: string, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CarrierError';
    this.kind = kind;
    this.code = code;
    this.retryAfterMs = options?.retryAfterMs ?? 0;
  }
}

const registry = new Map<string, CarrierRegistration>();

/** Registers a carrier for a URL scheme (grpc-js resolver style); a later registration replaces it. */
export function registerCarrier(registration: CarrierRegistration): void {
  registry.set(registration.scheme.toLowerCase(), registration);
}

/** The registration for a URL scheme (with or without the trailing colon), if any. */
export function carrierFor(scheme: string): CarrierRegistration | undefined {
  return registry.get(scheme.replace(/:$/, '').toLowerCase());
}

export function registeredSchemes(): string[] {
  return [...registry.keys()].sort();
}
