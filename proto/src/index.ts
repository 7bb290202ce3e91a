/**
 * The public entry of @attache/proto: generated messages (never edited by hand; `npm run generate`)
 * plus the gRPC service definition derived from the generated service descriptor.
 */
export * from './gen/attache/delegate/v1/delegate_pb.js';
export * as echo from './gen/attache/echo/v1/echo_pb.js';
export * as aws from './aws.js';
export { delegateServiceDefinition, CONNECT_METHOD_PATH, MAX_FRAME_BYTES } from './grpc-service.js';
export { PROTOCOL_VERSION } from './version.js';
export { DELEGATE_RELEASE } from './delegate-release.js';
export { DELEGATE_POLICY_LIMITS, UNSAFE_POLICY_CHARACTERS } from './delegate-policy.js';
export * from './nats-carrier.js';
export { newKeyChallenge, proveKeyPossession, type KeyChallengeState } from './key-proof.js';
export { newRawKeyPair, privateKeyFromRaw, rawPrivateKeyOf, rawPublicKeyOf, RAW_KEY_BYTES, type RawKeyPair, type RawKeyType } from './raw-key-pair.js';
export { BATCH_LIMITS, assignBytes, resultBytes, splitBatches, batchTooLargeMessage } from './batch.js';
export { GoodbyeCode, FATAL_GOODBYE_CODES, CONFIGURATION_GOODBYE_CODES } from './goodbye.js';
export { RefusalCode, FATAL_REFUSAL_CODES } from './refusal.js';
export { WEBSOCKET_CONNECT_PATH, WS_CLOSE, MAX_CLOSE_REASON_BYTES, type WsCloseCode } from './websocket.js';
export { CLI_SIGN_IN_START_PATH, CLI_SIGN_IN_EXCHANGE_PATH, pkceS256 } from './cli-sign-in.js';
