import { describe, expect, it } from 'vitest';
import { peerAddress } from './grpc-carrier.js';

describe('peerAddress', () => {
  it('drops the port from what grpc-js reports, keeping the address as the HTTP server sees it', () => {
    expect(peerAddress('127.0.0.1:54321')).toBe('127.0.0.1');
    expect(peerAddress('::1:54321')).toBe('::1');
    expect(peerAddress('::ffff:10.0.0.7:443')).toBe('::ffff:10.0.0.7');
    expect(peerAddress('[2001:db8::1]:8443')).toBe('2001:db8::1');
    expect(peerAddress('unknown')).toBe('unknown');
  });
});
