import { describe, expect, it } from 'vitest';
import { matchesHostWildcard, matchesWildcard } from './wildcard.js';

describe('matchesWildcard (reference patterns)', () => {
  it('matches literally without a star', () => {
    expect(matchesWildcard('env:AWS_ACCESS_KEY_ID', 'env:AWS_ACCESS_KEY_ID')).toBe(true);
    expect(matchesWildcard('env:AWS_ACCESS_KEY_ID', 'env:AWS_ACCESS_KEY_IDX')).toBe(false);
    expect(matchesWildcard('env:AWS_ACCESS_KEY_ID', 'env:aws_access_key_id')).toBe(false);
  });

  it('lets a star match any run, empty and across slashes', () => {
    expect(matchesWildcard('env:AWS_*', 'env:AWS_')).toBe(true);
    expect(matchesWildcard('env:AWS_*', 'env:AWS_SECRET_ACCESS_KEY')).toBe(true);
    expect(matchesWildcard('env:AWS_*', 'env:XAWS_KEY')).toBe(false);
    expect(matchesWildcard('file:/var/run/secrets/attache/*', 'file:/var/run/secrets/attache/prod/key')).toBe(true);
    expect(matchesWildcard('file:/var/run/secrets/attache/*', 'file:/var/run/secrets/attachex/key')).toBe(false);
    expect(matchesWildcard('file:/srv/*/key-*.pem', 'file:/srv/a/b/key-1.pem')).toBe(true);
    expect(matchesWildcard('file:/srv/*/key-*.pem', 'file:/srv/a/b/key-1.pem.bak')).toBe(false);
    expect(matchesWildcard('*', '')).toBe(true);
  });

  it('treats regular-expression characters literally', () => {
    expect(matchesWildcard('file:/a.b/(x)+', 'file:/a.b/(x)+')).toBe(true);
    expect(matchesWildcard('file:/a.b/(x)+', 'file:/aXb/xx')).toBe(false);
  });

  it('stays fast on hostile input', () => {
    const started = performance.now();
    expect(matchesWildcard('env:*A*A*A*A*A*A*A*B', `env:${'A'.repeat(20_000)}`)).toBe(false);
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});

describe('matchesHostWildcard (endpoint origins)', () => {
  it('lets a star match within the host, case-insensitively', () => {
    expect(matchesHostWildcard('*.internal.example', 'sts.internal.example')).toBe(true);
    expect(matchesHostWildcard('*.internal.example', 'a.b.internal.example')).toBe(true);
    expect(matchesHostWildcard('*.internal.example', 'STS.Internal.Example')).toBe(true);
    expect(matchesHostWildcard('*.internal.example', 'internal.example')).toBe(false);
    expect(matchesHostWildcard('*.internal.example', 'internal.example.attacker.test')).toBe(false);
  });

  it('never lets a star cross a colon or a slash', () => {
    expect(matchesHostWildcard('*', '[::1]')).toBe(false);
    expect(matchesHostWildcard('a*b', 'a/b')).toBe(false);
  });

  it('refuses hosts longer than a DNS name', () => {
    expect(matchesHostWildcard('*', 'a'.repeat(254))).toBe(false);
  });
});
