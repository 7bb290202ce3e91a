import { describe, expect, it } from 'vitest';
import { checkTokenBinding } from './token-binding.js';

const token = (group: string | null, tags: string[] | null) => ({ id: 'tok_1', name: 'gw token', group, tags });

describe('checkTokenBinding', () => {
  it('lets an unbound token register any group nobody has bound, with any tags', () => {
    expect(checkTokenBinding(token(null, null), 'vpc-east', ['aws', 'prod'], false)).toBeNull();
  });

  it('keeps an unbound token out of a group that a bound token owns', () => {
    const refusal = checkTokenBinding(token(null, null), 'vpc-east', [], true);
    expect(refusal?.code).toBe('GROUP_NOT_ALLOWED');
    expect(refusal?.message).toBe(
      'Delegate token tok_1 ("gw token") is not bound to a group, and delegate group "vpc-east" belongs to tokens bound to it; use a token created with group "vpc-east" (POST /v1/delegate-tokens).',
    );
    // A tag-only binding is still no group binding.
    expect(checkTokenBinding(token(null, ['aws']), 'vpc-east', ['aws'], true)?.code).toBe('GROUP_NOT_ALLOWED');
  });

  it('lets a group-bound token register only as its group', () => {
    expect(checkTokenBinding(token('vpc-east', null), 'vpc-east', ['anything'], true)).toBeNull();
    const refusal = checkTokenBinding(token('vpc-east', null), 'vpc-west', [], false);
    expect(refusal?.code).toBe('GROUP_NOT_ALLOWED');
    expect(refusal?.message).toMatch(/^Delegate token tok_1 \("gw token"\) is bound to delegate group "vpc-east" and cannot register as "vpc-west"; set ATTACHE_DELEGATE_NAME=vpc-east/);
  });

  it('lets a tag-bound token declare only tags inside its set, naming the token, group and offending tags', () => {
    expect(checkTokenBinding(token('vpc-east', ['aws', 'prod']), 'vpc-east', ['aws'], true)).toBeNull();
    expect(checkTokenBinding(token('vpc-east', ['aws', 'prod']), 'vpc-east', [], true)).toBeNull();
    const refusal = checkTokenBinding(token('vpc-east', ['aws', 'prod']), 'vpc-east', ['aws', 'gov', 'pci'], true);
    expect(refusal).toEqual({
      code: 'TAGS_NOT_ALLOWED',
      message: 'Delegate token tok_1 ("gw token") allows delegate group "vpc-east" only the tags aws, prod, not gov, pci; remove them from ATTACHE_TAGS or use a token that allows them.',
    });
    expect(checkTokenBinding(token('vpc-east', []), 'vpc-east', ['aws'], true)?.message).toMatch(/allows delegate group "vpc-east" no declared tags, not aws;/);
    // Tags bound without a group apply to whatever group the token registers.
    expect(checkTokenBinding(token(null, ['aws']), 'lab', ['gpu'], false)?.code).toBe('TAGS_NOT_ALLOWED');
  });

  it('checks the group before the tags: the name is the first thing to fix', () => {
    expect(checkTokenBinding(token('vpc-east', ['aws']), 'vpc-west', ['gpu'], false)?.code).toBe('GROUP_NOT_ALLOWED');
  });
});
