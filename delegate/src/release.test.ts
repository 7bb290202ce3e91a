import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { DELEGATE_RELEASE } from '@attache/proto';

describe('delegate release', () => {
  it('is the version this package reports in Hello, so a fresh delegate is never marked outdated', () => {
    const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
    expect(pkg.version).toBe(DELEGATE_RELEASE);
  });
});
