import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DelegatePolicy, policyDigest } from './delegate-policy.js';
import { parseOriginPatterns } from './origin-pattern.js';

describe('DelegatePolicy.summary', () => {
  it('reports the defaults, the reserved rules in words and a digest of what is allowed', () => {
    const summary = new DelegatePolicy({ keyFiles: ['/keys/group.pem'], stateDir: '/var/lib/attache' }).summary();
    expect(summary.allowRefs).toEqual(['env:AWS_*', 'file:/var/run/secrets/attache/*']);
    expect(summary.allowEndpoints).toEqual([]);
    expect(summary.reserved).toEqual(
      expect.arrayContaining([
        expect.stringContaining('env:ATTACHE_*'),
        expect.stringContaining("the delegate's own token"),
        expect.stringContaining('file:/keys/group.pem'),
        expect.stringContaining('file:/var/lib/attache/**'),
        expect.stringContaining('file:/var/run/secrets/kubernetes.io/**'),
        expect.stringContaining('file:/proc/**'),
      ]),
    );
    const canonical = '{"allowEndpoints":[],"allowRefs":["env:AWS_*","file:/var/run/secrets/attache/*"]}';
    expect(summary.digest).toBe(`sha256:${createHash('sha256').update(canonical).digest('hex')}`);
  });

  it('changes the digest exactly when what is allowed changes', () => {
    const parsed = parseOriginPatterns('http://127.0.0.1:5000');
    if ('errors' in parsed) throw new Error('bad list');
    const a = new DelegatePolicy({ allowRefs: ['env:B_*', 'env:A_*'], allowEndpoints: parsed.origins }).summary();
    const b = new DelegatePolicy({ allowRefs: ['env:A_*', 'env:B_*'], allowEndpoints: parsed.origins, stateDir: '/elsewhere' }).summary();
    expect(a.digest).toBe(b.digest);
    expect(a.allowEndpoints).toEqual(['http://127.0.0.1:5000']);
    expect(a.digest).not.toBe(new DelegatePolicy({ allowRefs: ['env:A_*'], allowEndpoints: parsed.origins }).summary().digest);
    expect(a.digest).not.toBe(new DelegatePolicy({ allowRefs: ['env:A_*', 'env:B_*'] }).summary().digest);
    expect(policyDigest(['x'], [])).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
