import { describe, expect, it } from 'vitest';
import { TaskFailure } from '../executors/task-failure.js';
import { checkFieldName, checkFieldValue, referenceName } from './secret-fields.js';

function refusal(run: () => void): TaskFailure {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(TaskFailure);
    return error as TaskFailure;
  }
  throw new Error('expected a refusal');
}

describe('the field rule', () => {
  it('normalises names: upper case, - and . as _', () => {
    expect(referenceName('prod.access-key-id')).toBe('PROD_ACCESS_KEY_ID');
  });

  it('lets only names that say so feed accessKeyId and sessionToken', () => {
    expect(() => checkFieldName('env:AWS_ACCESS_KEY_ID', 'AWS_ACCESS_KEY_ID', 'accessKeyId')).not.toThrow();
    expect(() => checkFieldName('file:/s/access-key-id', 'access-key-id', 'accessKeyId')).not.toThrow();
    expect(() => checkFieldName('file:/s/prod.session.token', 'prod.session.token', 'sessionToken')).not.toThrow();
    expect(() => checkFieldName('env:AWS_SESSION_TOKEN', 'AWS_SESSION_TOKEN', 'sessionToken')).not.toThrow();
    for (const [name, field] of [
      ['AWS_SECRET_ACCESS_KEY', 'accessKeyId'],
      ['AWS_SECRET_ACCESS_KEY', 'sessionToken'],
      ['SECRET_ACCESS_KEY_ID', 'accessKeyId'],
      ['AWS_SESSION_TOKEN', 'accessKeyId'],
      ['AWS_ACCESS_KEY_ID', 'sessionToken'],
      ['hostname', 'accessKeyId'],
      ['DB_PASSWORD', 'sessionToken'],
    ] as const) {
      const f = refusal(() => checkFieldName(`env:${name}`, name, field));
      expect(f.code).toBe('SECRET_NOT_ALLOWED');
      expect(f.details).toEqual({ reference: `env:${name}`, setting: 'ATTACHE_ALLOW_REFS', reason: 'field-not-allowed', field });
      expect(f.message).toContain(`env:${name}`);
      expect(f.message).toContain('ATTACHE_ALLOW_REFS');
    }
  });

  it('places no name rule on the fields that are only used to sign', () => {
    expect(() => checkFieldName('env:HOSTNAME', 'HOSTNAME', 'secretAccessKey')).not.toThrow();
    expect(() => checkFieldName('file:/s/tls.key', 'tls.key', 'userKey')).not.toThrow();
  });

  it('takes for accessKeyId only a value shaped like an access key id, without echoing it', () => {
    expect(() => checkFieldValue('env:AWS_ACCESS_KEY_ID', 'AKIAIOSFODNN7EXAMPLE', 'accessKeyId')).not.toThrow();
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const f = refusal(() => checkFieldValue('env:AWS_ACCESS_KEY_ID', secret, 'accessKeyId'));
    expect(f.code).toBe('SECRET_NOT_ALLOWED');
    expect(f.details).toMatchObject({ reference: 'env:AWS_ACCESS_KEY_ID', reason: 'field-not-allowed' });
    expect(`${f.message}${JSON.stringify(f.details)}`).not.toContain(secret);
    expect(() => checkFieldValue(undefined, 'short', 'accessKeyId')).toThrow(TaskFailure);
    expect(() => checkFieldValue('env:X', 'anything at all', 'secretAccessKey')).not.toThrow();
  });
});
