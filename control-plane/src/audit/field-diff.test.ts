import { describe, expect, it } from 'vitest';
import { fieldDiff } from './field-diff.js';

const SEALED = `sealed:v1:0123456789abcdef:${'A'.repeat(43)}:${'B'.repeat(40)}`;

describe('fieldDiff', () => {
  it('keeps plain values by dotted path', () => {
    expect(fieldDiff({ name: 'prod', auth: { type: 'assumeRole', durationSeconds: 900 }, delegateSelectors: ['aws', 'east'] })).toEqual({
      name: { changed: true, to: 'prod' },
      'auth.type': { changed: true, to: 'assumeRole' },
      'auth.durationSeconds': { changed: true, to: 900 },
      delegateSelectors: { changed: true, to: ['aws', 'east'] },
    });
  });

  it('names references, sealed values and secrets by kind, never by value', () => {
    const diff = fieldDiff({
      auth: { type: 'static', accessKeyId: 'env:AWS_ACCESS_KEY_ID', secretAccessKey: SEALED, sessionToken: 'file:/run/secrets/token', source: { secretAccessKey: 'env:SRC' } },
      password: 'correct horse battery',
      admin: { password: 'another one here' },
      apiKey: { anything: 'inside' },
      description: 'AKIAIOSFODNN7EXAMPLE',
      caBundle: '-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----',
      notes: ['fine', SEALED],
    });
    expect(diff).toEqual({
      'auth.type': { changed: true, to: 'static' },
      'auth.accessKeyId': { changed: true, kind: 'reference' },
      'auth.secretAccessKey': { changed: true, kind: 'sealed' },
      'auth.sessionToken': { changed: true, kind: 'reference' },
      'auth.source.secretAccessKey': { changed: true, kind: 'reference' },
      password: { changed: true, kind: 'secret' },
      'admin.password': { changed: true, kind: 'secret' },
      apiKey: { changed: true, kind: 'secret' },
      description: { changed: true, kind: 'secret' },
      caBundle: { changed: true, kind: 'secret' },
      notes: { changed: true, kind: 'sealed' },
    });
    const text = JSON.stringify(diff);
    for (const value of ['AWS_ACCESS_KEY_ID', 'sealed:v1', '/run/secrets', 'correct horse', 'another one', 'inside', 'AKIA', 'PRIVATE KEY']) expect(text).not.toContain(value);
  });

  it('a body that is not an object has no diff', () => {
    expect(fieldDiff(undefined)).toEqual({});
    expect(fieldDiff('text')).toEqual({});
    expect(fieldDiff([1, 2])).toEqual({});
  });
});
