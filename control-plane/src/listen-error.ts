/**
 * A listener could not be opened at start-up. The message names the listener, the address, the
 * reason and the setting to change, so the CLI prints it as is (no stack trace) and exits 1.
 */
export class ListenError extends Error {
  readonly code: 'ADDRESS_IN_USE' | 'ADDRESS_NOT_AVAILABLE' | 'PERMISSION_DENIED' | 'LISTEN_FAILED';

  constructor(what: string, address: string, setting: string, cause: unknown) {
    const text = String((cause as Error)?.message ?? cause);
    const code = /EADDRINUSE/.test(text)
      ? 'ADDRESS_IN_USE'
      : /EADDRNOTAVAIL/.test(text)
        ? 'ADDRESS_NOT_AVAILABLE'
        : /EACCES/.test(text)
          ? 'PERMISSION_DENIED'
          : 'LISTEN_FAILED';
    const why = {
      ADDRESS_IN_USE: 'the address is already in use (another control plane, or another program)',
      ADDRESS_NOT_AVAILABLE: 'no interface of this machine has that address',
      PERMISSION_DENIED: 'permission denied (ports below 1024 need privileges)',
      LISTEN_FAILED: text,
    }[code];
    super(`Cannot listen for ${what} on ${address}: ${why}. Set ${setting} to a free address.`, { cause });
    this.name = 'ListenError';
    this.code = code;
  }
}
