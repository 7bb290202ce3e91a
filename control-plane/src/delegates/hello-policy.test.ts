import { create } from '@bufbuild/protobuf';
import { DELEGATE_POLICY_LIMITS, DelegatePolicySchema, HelloSchema } from '@attache/proto';
import { describe, expect, it } from 'vitest';
import { validateHello } from './hello.js';
import { validateHelloPolicy } from './hello-policy.js';

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`;
const policy = (over: Partial<{ allowRefs: string[]; allowEndpoints: string[]; digest: string }> = {}) =>
  create(DelegatePolicySchema, { allowRefs: ['env:AWS_*'], allowEndpoints: ['http://127.0.0.1:5000'], digest: DIGEST, ...over });

describe('validateHelloPolicy', () => {
  it('keeps a well-formed policy and reports none for a delegate that sent none', () => {
    const problems: string[] = [];
    expect(validateHelloPolicy(policy(), problems)).toEqual({ digest: DIGEST, allowRefs: ['env:AWS_*'], allowEndpoints: ['http://127.0.0.1:5000'] });
    expect(validateHelloPolicy(undefined, problems)).toBeNull();
    expect(validateHelloPolicy(policy({ allowRefs: [], allowEndpoints: [] }), problems)).toMatchObject({ allowRefs: [], allowEndpoints: [] });
    expect(problems).toEqual([]);
  });

  it('refuses too many or too long entries, control and bidi characters, and a malformed digest', () => {
    const cases: Array<[ReturnType<typeof policy>, RegExp]> = [
      [policy({ allowRefs: Array.from({ length: DELEGATE_POLICY_LIMITS.maxEntries + 1 }, (_, i) => `env:A${i}`) }), /allow_refs: at most 64 entries/],
      [policy({ allowEndpoints: [`https://${'a'.repeat(260)}`] }), /allow_endpoints\[0\] must be 1 to 256 characters/],
      [policy({ allowRefs: [''] }), /allow_refs\[0\] must be 1 to 256/],
      [policy({ allowRefs: ['env:AWS_\u202e*'] }), /allow_refs\[0\] contains a control or bidirectional/],
      [policy({ allowEndpoints: ['http://a\n.example'] }), /allow_endpoints\[0\] contains a control/],
      [policy({ digest: 'sha256:ABC' }), /policy.digest must be/],
      [policy({ digest: `md5:${'0'.repeat(64)}` }), /policy.digest must be/],
    ];
    for (const [bad, message] of cases) {
      const problems: string[] = [];
      expect(validateHelloPolicy(bad, problems)).toBeNull();
      expect(problems).toEqual([expect.stringMatching(message)]);
    }
  });

  it('is applied by validateHello: a bad policy refuses the Hello, a good one is carried', () => {
    const hello = (p?: ReturnType<typeof policy>) =>
      create(HelloSchema, { name: 'gw', instanceId: 'i-1', taskTypes: ['echo'], maxConcurrency: 1, version: '1', ...(p ? { policy: p } : {}) });
    const good = validateHello(hello(policy()));
    expect(good.ok && good.value.policy).toEqual({ digest: DIGEST, allowRefs: ['env:AWS_*'], allowEndpoints: ['http://127.0.0.1:5000'] });
    const none = validateHello(hello());
    expect(none.ok && none.value.policy).toBeNull();
    const bad = validateHello(hello(policy({ digest: 'nope' })));
    expect(bad).toMatchObject({ ok: false, problems: [expect.stringMatching(/policy.digest/)] });
  });
});
