import { create, type MessageInitShape } from '@bufbuild/protobuf';
import { HelloSchema } from '@attache/proto';
import { describe, expect, it } from 'vitest';
import { keyIdOf, SEALING_ALGORITHM } from '../security/sealed-refs.js';
import { HELLO_LIMITS, validateHello } from './hello.js';

const hello = (over: MessageInitShape<typeof HelloSchema> = {}) =>
  create(HelloSchema, { name: 'vpc-east', instanceId: 'i-1', tags: ['aws', 'prod'], taskTypes: ['echo', 'aws.validate'], maxConcurrency: 4, version: '1.2.3', ...over });

const problemsOf = (over: MessageInitShape<typeof HelloSchema>): string[] => {
  const r = validateHello(hello(over));
  if (r.ok) throw new Error('expected the Hello to be refused');
  return r.problems;
};

/** Bidi overrides and isolates, directional marks, zero-width characters, controls. */
const INVISIBLE = ['\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\u200e', '\u200f', '\u200b', '\u200d', '\ufeff', '\u0007', '\u001b', '\u2028'];

describe('validateHello', () => {
  it('accepts a well-formed Hello and adds the name as a tag, keeping what was declared apart', () => {
    const r = validateHello(hello({ tags: ['prod', 'aws', 'vpc-east', 'aws'] }));
    expect(r).toEqual({
      ok: true,
      value: expect.objectContaining({
        name: 'vpc-east',
        tags: ['aws', 'prod', 'vpc-east'],
        declaredTags: ['aws', 'prod'],
        taskTypes: ['aws.validate', 'echo'],
        version: '1.2.3',
      }),
    });
  });

  it('takes names and tags by the API grammar: what a route refuses, Hello refuses', () => {
    expect(problemsOf({ name: 'VPC_East' }).join()).toMatch(/^name "VPC_East" must be lowercase letters, digits and -/);
    expect(problemsOf({ name: 'a'.repeat(64) }).join()).toMatch(/name "a{64}" must be/);
    expect(problemsOf({ name: '' }).join()).toMatch(/name "" must be/);
    // Tags allow . _ : / which names do not.
    expect(validateHello(hello({ tags: ['team/a', 'env:prod', 'v1.2'] })).ok).toBe(true);
    expect(problemsOf({ tags: ['Prod'] }).join()).toMatch(/tag "Prod" must be lowercase letters, digits and \. _ : \/ -/);
    expect(problemsOf({ tags: ['-x'] })).toHaveLength(1);
  });

  it('refuses key: tags, which only proven keys give', () => {
    expect(problemsOf({ tags: ['key:0123456789abcdef'] }).join()).toMatch(/reserved; key tags come from public_keys/);
  });

  it('takes task types only of a known shape, at most 64 characters and 32 of them', () => {
    expect(validateHello(hello({ taskTypes: ['echo', 'aws.listPolicies', 'x.y.zAb9'] })).ok).toBe(true);
    for (const bad of ['Echo', 'aws.', '.aws', 'aws..validate', 'aws.9x', 'aws validate', 'aws-validate', 'a'.repeat(65)]) {
      expect(problemsOf({ taskTypes: [bad] }).join(), bad).toMatch(/task type ".*" must be dot-separated words/);
    }
    expect(validateHello(hello({ taskTypes: ['a'.repeat(64)] })).ok).toBe(true);
    expect(problemsOf({ taskTypes: [] }).join()).toMatch(/at least one task type/);
    const many = Array.from({ length: HELLO_LIMITS.maxTaskTypes + 1 }, (_, i) => `t${i}`);
    expect(problemsOf({ taskTypes: many })).toEqual([`at most ${HELLO_LIMITS.maxTaskTypes} task types, not ${many.length}`]);
    expect(validateHello(hello({ taskTypes: many.slice(1) })).ok).toBe(true);
  });

  it('caps counts and lengths', () => {
    const tags = Array.from({ length: HELLO_LIMITS.maxTags + 1 }, (_, i) => `t${i}`);
    expect(problemsOf({ tags })).toEqual([`at most ${HELLO_LIMITS.maxTags} tags, not ${tags.length}`]);
    expect(validateHello(hello({ tags: tags.slice(1) })).ok).toBe(true);
    expect(problemsOf({ version: 'v'.repeat(65) }).join()).toMatch(/version "v{64}\.\.\." must be at most 64 printable ASCII characters/);
    expect(validateHello(hello({ version: 'v'.repeat(64) })).ok).toBe(true);
    expect(problemsOf({ version: '1.0\u00e9' }).join()).toMatch(/version "1\.0\\u\{e9\}" must be/);
    expect(problemsOf({ instanceId: 'x'.repeat(129) }).join()).toMatch(/instance_id ".*" must be 1-128 characters/);
    expect(problemsOf({ maxConcurrency: 0 }).join()).toMatch(/max_concurrency must be between 1 and 1000/);
    expect(problemsOf({ maxConcurrency: 1001 })).toHaveLength(1);
    const refs = Array.from({ length: HELLO_LIMITS.maxInFlightRefs + 1 }, (_, i) => ({ taskId: `tsk_${i}`, attempt: 1 }));
    expect(problemsOf({ inFlight: refs }).join()).toMatch(/at most 1000 in_flight/);
    expect(problemsOf({ inFlight: [{ taskId: 'x'.repeat(65), attempt: 1 }] }).join()).toMatch(/in_flight task ids must be 1-64 characters/);
    expect(problemsOf({ inFlight: [{ taskId: 'tsk_\u202e1', attempt: 1 }] })).toHaveLength(1);
  });

  it('refuses control and bidi/format characters in every name-like field, without echoing them', () => {
    for (const c of INVISIBLE) {
      const code = `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      const fields: Array<[string, MessageInitShape<typeof HelloSchema>]> = [
        ['name', { name: `vpc${c}east` }],
        ['instance_id', { instanceId: `i${c}1` }],
        ['tag', { tags: [`aws${c}`] }],
        ['task type', { taskTypes: [`echo${c}`] }],
        ['version', { version: `1.0${c}` }],
      ];
      for (const [field, over] of fields) {
        const problems = problemsOf(over);
        expect(problems, `${field} with ${code}`).toEqual([`${field} contains control or invisible formatting characters (${code}), which are refused in names`]);
        expect(problems.join()).not.toContain(c);
      }
    }
  });

  it('does not echo what it refuses in public key problems either', () => {
    const key = new Uint8Array(32).fill(7);
    const problems = problemsOf({ publicKeys: [{ keyId: `\u202e${keyIdOf(key).slice(1)}`, algorithm: SEALING_ALGORITHM, publicKey: key }] });
    expect(problems.join()).toMatch(/public key "\\u\{202e\}/);
    expect(problems.join()).not.toContain('\u202e');
  });

  it('accepts a public key whose id matches, and refuses one whose id does not', () => {
    const key = new Uint8Array(32).fill(9);
    const ok = validateHello(hello({ publicKeys: [{ keyId: keyIdOf(key), algorithm: SEALING_ALGORITHM, publicKey: key }] }));
    expect(ok.ok).toBe(true);
    expect(problemsOf({ publicKeys: [{ keyId: '0000000000000000', algorithm: SEALING_ALGORITHM, publicKey: key }] }).join()).toMatch(/key_id must be/);
  });
});
