/**
 * The NATS carrier's wire contract, shared by the control plane and the delegate. Frames are the
 * same protobuf DelegateFrame / ControlFrame bytes as on gRPC, one per NATS message; carrier-level
 * signals (rejection, keepalive, close) travel as header-only messages so they can never be
 * confused with a frame.
 *
 * A session's subjects are chosen by the control plane when it issues the delegate's credentials
 * (`POST /v1/delegate/nats-credentials`) and written into the delegate's user JWT as its only
 * permissions; the delegate uses them exactly as given.
 */
export const NATS_CREDENTIALS_PATH = '/v1/delegate/nats-credentials';

/** Header names on carrier-level messages. */
export const NatsHeader = {
  /** On `down`: the control plane refuses or ends the session (UNAUTHENTICATED, ...). */
  status: 'Attache-Status',
  /** A sentence for the status. */
  message: 'Attache-Message',
  /** On `down`: keepalive from the control plane while nothing else is sent. */
  ping: 'Attache-Ping',
  /** On `up`: the delegate closes the session. */
  close: 'Attache-Close',
} as const;

export interface NatsSessionSubjects {
  /** The delegate's request opening the session; carries its bearer token. */
  connect: string;
  /** DelegateFrames, delegate → control plane. */
  up: string;
  /** ControlFrames and carrier signals, control plane → delegate. */
  down: string;
  /** The delegate's inbox prefix for the connect request's reply. */
  inboxPrefix: string;
}

/** Body of `POST /v1/delegate/nats-credentials` (authorization: Bearer <delegate token>). */
export interface NatsCredentialsRequest {
  /** The delegate's user nkey (U...): the seed never leaves the delegate. */
  publicKey: string;
}

export interface NatsCredentialsResponse {
  /** User JWT for `publicKey`, signed by the account; permits only `subjects`. */
  jwt: string;
  /** ISO time; the server disconnects the user then, and the delegate fetches new credentials. */
  expiresAt: string;
  subjects: NatsSessionSubjects;
}
