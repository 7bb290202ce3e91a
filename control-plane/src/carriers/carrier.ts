import type { ControlFrame, DelegateFrame, Goodbye as GoodbyeMessage, RefusalCode } from '@attache/proto';
import type { Goodbye } from '../delegates/session-registry.js';

/**
 * One delegate connection as the control plane sees it, whatever carries it (gRPC stream,
 * WebSocket, NATS subjects). Carriers only move frames and report the peer's bearer token; all
 * protocol logic lives in delegates/connection-handler.ts, so every carrier behaves the same.
 */
export interface DelegateConnection {
  /** Carrier name for listings and metrics: grpc, websocket, nats. */
  readonly transport: string;
  /** Remote address, for logs. */
  readonly peer: string;
  /** The bearer token the delegate presented at connect time, or null when it presented none. */
  readonly token: string | null;
  /**
   * The tenant the carrier's own authentication already bound this connection to (NATS: the tenant
   * in the subjects its JWT allows), or undefined. A token of another tenant is then refused.
   */
  readonly tenantId?: string | undefined;
  /** Sends one frame; returns false when the connection is already closed. */
  send(frame: ControlFrame): boolean;
  /** Ends the connection. With `reason` the peer gets a Goodbye first (with its retry hint, if any). */
  close(reason?: Goodbye): void;
  /** Rejects the connection before it is registered (bad token): carrier-level status. */
  reject(code: RejectCode, message: string): void;
  onFrame(handler: (frame: DelegateFrame) => void): void;
  /** Called once when the connection ends for any reason. */
  onClose(handler: (reason: string) => void): void;
}

/**
 * Carrier-level refusals before registration, named like the gRPC statuses they map to (the
 * WebSocket carrier maps them to close codes 4401/4403/4429, NATS to a status header).
 */
/** How a carrier refuses a connection before any frame: the protocol's refusal vocabulary. */
export type RejectCode = RefusalCode;

/** A listener that accepts delegate connections and hands each one to `accept`. */
export interface CarrierServer {
  readonly transport: string;
  start(accept: (connection: DelegateConnection) => void): Promise<void>;
  /** The address actually bound (port 0 resolves here). */
  address(): { host: string; port: number };
  stop(): Promise<void>;
}

/** The Goodbye frame's fields for a close reason: what every carrier sends before it closes. */
export function goodbyeFrame(reason: Goodbye): Pick<GoodbyeMessage, 'code' | 'reason' | 'retryAfterMs'> {
  // uint32 on the wire; a hint is whole milliseconds and never negative.
  const retryAfterMs = Math.min(0xffff_ffff, Math.max(0, Math.ceil(reason.retryAfterMs ?? 0)));
  return { code: reason.code, reason: reason.message, retryAfterMs };
}
