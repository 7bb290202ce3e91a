import type { FastifyInstance } from 'fastify';
import { WEBSOCKET_CONNECT_PATH } from '@attache/proto';
import { AppError, ErrorCode } from '../../errors.js';
import { defineOperations } from '../openapi/operation.js';

/**
 * The WebSocket carrier's path answers upgrades on the HTTP server itself; a plain request reaching
 * it (a browser, curl, a proxy that strips Upgrade) learns what it needs instead of a 404.
 */
export function delegateConnectRoutes(app: FastifyInstance, deps: { grpcPort: () => number }): void {
  app.get(WEBSOCKET_CONNECT_PATH, async (_request, reply) => {
    reply.header('upgrade', 'websocket');
    reply.header('connection', 'Upgrade');
    throw new AppError(
      ErrorCode.UPGRADE_REQUIRED,
      `${WEBSOCKET_CONNECT_PATH} is the delegates' WebSocket endpoint: connect with a WebSocket client (attache-delegate with ATTACHE_URL=ws://... or wss://...), or with gRPC on port ${deps.grpcPort()}. If a proxy is in the way, let it pass the Upgrade header.`,
      // grpcPort lets a delegate that aimed a grpc:// URL at this port say which port it meant.
      { upgrade: 'websocket', grpcPort: deps.grpcPort() },
    );
  });
}

export const delegateConnectOperations = defineOperations([
  {
    method: 'GET', path: WEBSOCKET_CONNECT_PATH, operationId: 'connectDelegateWebSocket', tag: 'delegate-api',
    summary: "The delegates' WebSocket carrier (binary protobuf frames).",
    description: 'Only a WebSocket upgrade (with the delegate token as bearer) is served; a plain GET answers 426.',
    responses: { 101: { description: 'Switched to the WebSocket protocol.' } },
    errors: [426],
  },
]);
