import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './log.js';
import { ENDED_SCOPE_RETENTION_MS, MASK, Masker } from './masking.js';

function capture(lines: string[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
}

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
    const masker = new Masker();
    const log = createLogger({ masker, destination: capture(lines), level: 'info' });
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

  it('hides overlapping and nested secrets whole', () => {
    const masker = new Masker();
    masker.register('abcdef123456');
    masker.register('123456uvwxyz');
    masker.register('role-session-ABCDEFGH-tail');
    masker.register('ABCDEFGH');
    expect(masker.mask('k=abcdef123456uvwxyz;')).toBe(`k=${MASK};`);
    expect(masker.mask('s=role-session-ABCDEFGH-tail t=ABCDEFGH')).toBe(`s=${MASK} t=${MASK}`);
  });

  it('masks one secret written in several encodings on the same line', () => {
    const masker = new Masker();
    const value = 'pa"ss\\wörd-0123456789';
    masker.register(value);
    const bytes = Buffer.from(value);
    const line = JSON.stringify({
      raw: value,
      basic: Buffer.from(`user:${value}`).toString('base64'),
      b64: bytes.toString('base64'),
      b64url: bytes.toString('base64url'),
    });
    const masked = masker.mask(line);
    expect(masked.match(/\*\*\*/g)).toHaveLength(4);
    expect(masked).not.toContain('0123456789');
    expect(masked).not.toContain(bytes.toString('base64').slice(8, 20));
    expect(masked).not.toContain(bytes.toString('base64url').slice(8, 20));
    // What is left of the Basic credential no longer decodes to any of the secret.
    const basic = (JSON.parse(masked) as { basic: string }).basic.replace(MASK, '');
    expect(Buffer.from(basic, 'base64').toString('latin1')).not.toContain('0123');
  });

  it("masks a task's secrets while it runs, however long, and for the retention time after it ends", () => {
    let now = 1_000_000;
    const masker = new Masker({ now: () => now });
    const task = masker.openScope();
    task.register('ASIA-session-secret-1');
    now += 10 * ENDED_SCOPE_RETENTION_MS;
    expect(masker.mask('x ASIA-session-secret-1')).toBe(`x ${MASK}`);
    task.end();
    now += ENDED_SCOPE_RETENTION_MS - 1;
    expect(masker.mask('x ASIA-session-secret-1')).toBe(`x ${MASK}`);
    expect(masker.size).toBe(1);
    now += 1;
    // Dropped, not just hidden: the masker no longer holds it.
    expect(masker.mask('x ASIA-session-secret-1')).toBe('x ASIA-session-secret-1');
    expect(masker.size).toBe(0);
  });

  it('renews the retention when a task registers after it ended', () => {
    let now = 0;
    const masker = new Masker({ now: () => now });
    const task = masker.openScope();
    task.end();
    now += ENDED_SCOPE_RETENTION_MS - 1;
    task.register('late-secret-value');
    now += ENDED_SCOPE_RETENTION_MS - 1;
    expect(masker.mask('late-secret-value')).toBe(MASK);
    now += 1;
    expect(masker.mask('late-secret-value')).toBe('late-secret-value');
  });

  it('drops the oldest ended scopes beyond the cap, and keeps a secret another scope still holds', () => {
    const masker = new Masker({ maxEndedScopes: 2 });
    const shared = 'shared-static-secret-key';
    const scopes = ['first-secret-1', 'second-secret-2', 'third-secret-3'].map((value) => {
      const scope = masker.openScope();
      scope.register(value);
      scope.register(shared);
      return scope;
    });
    scopes[0]!.end();
    scopes[1]!.end();
    expect(masker.mask('first-secret-1')).toBe(MASK);
    scopes[2]!.end();
    expect(masker.mask('first-secret-1 second-secret-2 third-secret-3')).toBe(`first-secret-1 ${MASK} ${MASK}`);
    expect(masker.mask(shared)).toBe(MASK);
  });

  it('never drops secrets registered for the life of the process', () => {
    let now = 0;
    const masker = new Masker({ now: () => now, maxEndedScopes: 3 });
    masker.register('dlg_tok_process_lifetime');
    for (let i = 0; i < 20; i++) {
      const scope = masker.openScope();
      scope.register('dlg_tok_process_lifetime');
      scope.register(`per-task-secret-${i}`);
      scope.end();
      now += ENDED_SCOPE_RETENTION_MS;
    }
    now += 365 * 24 * 3_600_000;
    expect(masker.mask('Bearer dlg_tok_process_lifetime')).toBe(`Bearer ${MASK}`);
    expect(masker.mask('per-task-secret-19')).toBe('per-task-secret-19');
    expect(masker.size).toBe(1);
  });

  it('finds secrets in serialised bytes by their UTF-8 encoding', () => {
    const masker = new Masker();
    const scope = masker.openScope();
    scope.register('grüße-geheim-42');
    const utf8 = Buffer.from('grüße-geheim-42', 'utf8');
    // A protobuf-like frame: tag, length prefix, then the string's bytes.
    expect(masker.containsSecret(Buffer.concat([Buffer.from([0x0a, utf8.length]), utf8, Buffer.from([0x10, 0xff])]))).toBe(true);
    expect(masker.containsSecret(Buffer.from(`x${utf8.toString('base64')}x`))).toBe(true);
    // The same characters in another encoding are not the secret's bytes.
    expect(masker.containsSecret(Buffer.from('grüße-geheim-42', 'latin1'))).toBe(false);
    expect(masker.containsSecret(new Uint8Array(0))).toBe(false);
    const view = Buffer.concat([Buffer.from('padding'), utf8]);
    expect(masker.containsSecret(new Uint8Array(view.buffer, view.byteOffset + 7, utf8.length))).toBe(true);
    expect(masker.containsSecret(new Uint8Array(view.buffer, view.byteOffset, 7))).toBe(false);
  });

  it('masks a task secret in process log lines written outside the task while it runs', () => {
    const lines: string[] = [];
    const masker = new Masker();
    const processLog = createLogger({ masker, destination: capture(lines), level: 'info' });
    const taskA = masker.openScope();
    taskA.register('secret-of-task-A-0001');
    processLog.info({ carrier: 'grpc' }, 'socket error near secret-of-task-A-0001');
    const taskB = masker.openScope();
    taskB.register('secret-of-task-B-0002');
    processLog.child({ taskId: 'B' }).warn('retrying with secret-of-task-A-0001 and secret-of-task-B-0002');
    expect(lines.join('')).not.toContain('secret-of-task');
    expect((JSON.parse(lines[1]!) as { msg: string }).msg).toBe(`retrying with ${MASK} and ${MASK}`);
  });
});
