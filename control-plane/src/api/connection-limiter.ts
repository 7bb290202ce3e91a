import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** Open HTTP connections in total. */
  maxConnections: number;
  /** Open HTTP connections from one client address. */
  maxConnectionsPerAddress: number;
}

/**
 * Caps the HTTP server's open connections, in total and per client address, so that one host
 * opening thousands of connections (and trickling their headers) cannot take the sockets everyone
 * else needs. A connection past a cap is closed as soon as it is accepted, before a byte is read.
 *
 * A connection upgraded to a WebSocket stops counting: those are delegates, long-lived by design,
 * and a customer may run many behind one NAT address. They are bounded elsewhere, per tenant
 * (ATTACHE_MAX_DELEGATES_PER_TENANT) once their token is checked, which happens right after the
 * upgrade. While a delegate is still connecting (before the upgrade) it counts like any client.
 */
export function limitConnections(server: Server, limits: ConnectionLimits): { open(): number } {
  const perAddress = new Map<string, number>();
  /** The counted sockets and the address each was counted under. */
  const counted = new WeakMap<Socket, string>();
  let total = 0;

  const release = (socket: Socket) => {
    const address = counted.get(socket);
    if (address === undefined) return;
    counted.delete(socket);
    total--;
    const n = (perAddress.get(address) ?? 1) - 1;
    if (n <= 0) perAddress.delete(address);
    else perAddress.set(address, n);
  };

  const admit = (socket: Socket): boolean => {
    const address = socket.remoteAddress ?? 'unknown';
    const fromAddress = perAddress.get(address) ?? 0;
    if (total >= limits.maxConnections || fromAddress >= limits.maxConnectionsPerAddress) return false;
    counted.set(socket, address);
    total++;
    perAddress.set(address, fromAddress + 1);
    socket.once('close', () => release(socket));
    return true;
  };

  // The check goes in front of the HTTP server's own connection listener, which then sees only
  // admitted sockets: a refused one costs an accept and a close, not an HTTP parser and its timers.
  // That matters in a burst, when thousands queue up behind one another in the same event-loop turn.
  const httpListeners = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    if (!admit(socket)) {
      socket.destroy();
      return;
    }
    for (const listener of httpListeners) listener.call(server, socket);
  });
  // Every upgrade on this server is the delegate carrier's (it answers all of them).
  server.on('upgrade', (_request: unknown, socket: Socket) => release(socket));
  return { open: () => total };
}
