import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.js';
import { MASK, Masker } from './masking.js';

describe('Masker', () => {
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

  it('replaces the raw value everywhere', () => {
    const masker = new Masker();
    masker.register(secret);
    expect(masker.mask(`key=${secret}; again ${secret}`)).toBe(`key=${MASK}; again ${MASK}`);
  });

  it('replaces the base64 and base64url forms', () => {
    const masker = new Masker();
    masker.register(secret);
    const b64 = Buffer.from(secret).toString('base64');
    const b64url = Buffer.from(secret).toString('base64url');
    expect(masker.mask(`Basic ${b64}`)).toBe(`Basic ${MASK}`);
    expect(masker.mask(`x ${b64url} y`)).toBe(`x ${MASK} y`);
    expect(masker.mask(b64.replace(/=+$/, ''))).toBe(MASK);
  });

  it('catches the secret base64-encoded inside a larger value at any alignment', () => {
    const masker = new Masker();
    masker.register('s3cr3t-passw0rd');
    for (const prefix of ['u:', 'us:', 'use:']) {
      const encoded = Buffer.from(`${prefix}s3cr3t-passw0rd`).toString('base64');
      const masked = masker.mask(`Authorization: Basic ${encoded}`);
      expect(masked).toContain(MASK);
      // What is left of the encoding no longer decodes to the secret.
      expect(Buffer.from(masked.replace('Authorization: Basic ', '').replace(MASK, ''), 'base64').toString()).not.toContain('passw0rd');
    }
  });

  it('masks strings deep inside objects and detects secrets in bytes', () => {
    const masker = new Masker();
    masker.register(secret);
    expect(masker.maskDeep({ a: [`x${secret}`], b: { c: secret, n: 3 } })).toEqual({ a: [`x${MASK}`], b: { c: MASK, n: 3 } });
    expect(masker.containsSecret(Buffer.from(`prefix ${secret}`))).toBe(true);
    expect(masker.containsSecret(Buffer.from(Buffer.from(secret).toString('base64')))).toBe(true);
    expect(masker.containsSecret(Buffer.from('harmless'))).toBe(false);
  });

  it('ignores empty values and leaves text alone when nothing is registered', () => {
    const masker = new Masker();
    masker.register('');
    masker.register('   ');
    expect(masker.size).toBe(0);
    expect(masker.mask('nothing to hide')).toBe('nothing to hide');
  });

  it('masks log lines, including secrets registered after the logger was made', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const masker = new Masker();
    const log = createLogger({ masker, destination, level: 'info' });
    masker.register('tok-123456');
    log.info({ detail: 'tok-123456' }, 'using tok-123456 and "quoted\\secret"');
    masker.register('quoted\\secret');
    log.info('value "quoted\\secret"');
    const text = lines.join('');
    expect(text).not.toContain('tok-123456');
    // The JSON-escaped form is what appears on the line, and it is caught.
    expect(lines[1]).not.toContain('quoted');
    expect(JSON.parse(lines[0]!).msg).toBe(`using ${MASK} and "quoted\\secret"`);
    expect(JSON.parse(lines[1]!).msg).toBe(`value "${MASK}"`);
  });
});
