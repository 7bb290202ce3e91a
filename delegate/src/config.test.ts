import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadPolicyConfig } from './config.js';

const base = {
  ATTACHE_URL: 'grpc://127.0.0.1:7443',
  ATTACHE_TOKEN: 'tok_secret_value',
  ATTACHE_DELEGATE_NAME: 'vpc-east',
};

function errorsOf(result: ReturnType<typeof loadConfig>): string[] {
  if (result.ok) throw new Error('expected errors');
  return result.errors;
}

describe('loadConfig', () => {
  it('parses a good environment with defaults', () => {
    const result = loadConfig({ ...base, ATTACHE_TAGS: ' aws, prod ,aws,,' });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const { config } = result;
    expect(config.urls.map((u) => u.href)).toEqual(['grpc://127.0.0.1:7443']);
    expect(config.token).toBe('tok_secret_value');
    expect(config.tags).toEqual(['vpc-east', 'aws', 'prod']);
    expect(config.maxConcurrency).toBe(10);
    expect(config.drainGraceSeconds).toBe(30);
    expect(config.logLevel).toBe('info');
    expect(config.healthAddr).toBeUndefined();
    expect(config.ca).toBeUndefined();
  });

  it('lets flags win over the environment', () => {
    const result = loadConfig(
      { ...base, ATTACHE_MAX_CONCURRENCY: '3', ATTACHE_HEALTH_ADDR: '127.0.0.1:9000' },
      { maxConcurrency: '7', name: 'edge-1', healthAddr: ':8081', logLevel: 'debug', drainGraceSeconds: '5' },
    );
    expect(result.ok && result.config).toMatchObject({
      maxConcurrency: 7,
      name: 'edge-1',
      healthAddr: { host: '0.0.0.0', port: 8081 },
      logLevel: 'debug',
      drainGraceSeconds: 5,
    });
  });

  it('names the variable, or both sources when missing, one line per problem', () => {
    const errors = errorsOf(loadConfig({ ATTACHE_URL: 'http://x:1', ATTACHE_MAX_CONCURRENCY: '0', ATTACHE_TAGS: 'ok,Bad_Tag' }));
    expect(errors).toHaveLength(5);
    expect(errors).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ATTACHE_URL: unsupported scheme http:\/\/ \(supported: grpc:\/\/, grpcs:\/\/, .*ws:\/\/, wss:\/\//),
        'ATTACHE_TOKEN (or --token): is required',
        'ATTACHE_DELEGATE_NAME (or --name): is required',
        expect.stringMatching(/^ATTACHE_MAX_CONCURRENCY: must be at least 1/),
        expect.stringMatching(/^ATTACHE_TAGS: tag "Bad_Tag" must match/),
      ]),
    );
  });

  it('names the flag when the bad value came from a flag, and never echoes the token', () => {
    const errors = errorsOf(
      loadConfig(base, { name: 'Not Valid', maxConcurrency: '1001', logLevel: 'loud', url: 'grpc://host', healthAddr: 'nope' }),
    );
    expect(errors.some((e) => e.startsWith('--name: must match'))).toBe(true);
    expect(errors.some((e) => e.startsWith('--max-concurrency: must be at most 1000'))).toBe(true);
    expect(errors.some((e) => e.startsWith('--log-level: must be one of'))).toBe(true);
    expect(errors.some((e) => e.startsWith('--url: missing port'))).toBe(true);
    expect(errors.some((e) => e.startsWith('--health-addr: expected host:port'))).toBe(true);
    expect(errors.join('\n')).not.toContain('tok_secret_value');
  });

  it('reads the CA file for grpcs and rejects it for plaintext grpc', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attache-config-'));
    const pem = join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const good = loadConfig({ ...base, ATTACHE_URL: 'grpcs://cp.example.com:443', ATTACHE_CA_FILE: pem });
    expect(good.ok && good.config.ca?.toString()).toContain('BEGIN CERTIFICATE');

    expect(errorsOf(loadConfig({ ...base, ATTACHE_CA_FILE: pem }))).toEqual([
      'ATTACHE_CA_FILE: only applies to TLS URLs, but ATTACHE_URL is grpc://',
    ]);
    expect(errorsOf(loadConfig({ ...base, ATTACHE_URL: 'grpcs://h:1' }, { caFile: join(dir, 'missing.pem') }))).toEqual([
      `--ca-file: cannot read ${join(dir, 'missing.pem')}: ENOENT`,
    ]);
  });

  it('takes a comma-separated list of URLs, any mix of carriers, with default ports for ws and wss', () => {
    const result = loadConfig({ ...base, ATTACHE_URL: ' grpc://a:7443, wss://b.example.com ,ws://c:8080/attache,' });
    expect(result.ok && result.config.urls.map((u) => u.href)).toEqual([
      'grpc://a:7443',
      'wss://b.example.com/',
      'ws://c:8080/attache',
    ]);
    const errors = errorsOf(loadConfig({ ...base, ATTACHE_URL: 'grpc://a:1,grpc://b,ftp://c:1' }));
    expect(errors).toEqual([
      expect.stringMatching(/^ATTACHE_URL: missing port in "grpc:\/\/b"/),
      expect.stringMatching(/^ATTACHE_URL: unsupported scheme ftp:\/\//),
    ]);
    expect(errorsOf(loadConfig({ ...base, ATTACHE_URL: ' , ' }))).toEqual(['ATTACHE_URL: is required']);
  });

  it('accepts a CA file when any URL of the list uses TLS', () => {
    const dir = mkdtempSync(join(tmpdir(), 'attache-config-'));
    const pem = join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    expect(loadConfig({ ...base, ATTACHE_URL: 'grpc://a:1,wss://b', ATTACHE_CA_FILE: pem }).ok).toBe(true);
    expect(errorsOf(loadConfig({ ...base, ATTACHE_URL: 'grpc://a:1,ws://b', ATTACHE_CA_FILE: pem }))).toEqual([
      'ATTACHE_CA_FILE: only applies to TLS URLs, but ATTACHE_URL is grpc://, ws://',
    ]);
  });

  it('treats empty variables as unset', () => {
    const result = loadConfig({ ...base, ATTACHE_MAX_CONCURRENCY: '', ATTACHE_HEALTH_ADDR: '' });
    expect(result.ok && result.config.maxConcurrency).toBe(10);
    expect(result.ok && result.config.healthAddr).toBeUndefined();
  });

  it('defaults the policy: AWS variables and the attache secrets directory, no endpoints', () => {
    const result = loadConfig(base);
    expect(result.ok && result.config.allowRefs).toEqual(['env:AWS_*', 'file:/var/run/secrets/attache/*']);
    expect(result.ok && result.config.allowEndpoints).toEqual([]);
    expect(result.ok && result.config.policy.summary().allowEndpoints).toEqual([]);
  });

  it('parses ATTACHE_ALLOW_REFS and ATTACHE_ALLOW_ENDPOINTS, flags winning', () => {
    const result = loadConfig(
      { ...base, ATTACHE_ALLOW_REFS: 'env:PROD_*, file:/srv/keys/*', ATTACHE_ALLOW_ENDPOINTS: 'https://*.internal.example:8443' },
      { allowEndpoints: 'http://127.0.0.1:5000,https://vpce-0a1.sts.us-east-1.vpce.amazonaws.com:443' },
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.allowRefs).toEqual(['env:PROD_*', 'file:/srv/keys/*']);
    expect(result.config.policy.summary().allowEndpoints).toEqual(['http://127.0.0.1:5000', 'https://vpce-0a1.sts.us-east-1.vpce.amazonaws.com']);
    expect(loadConfig({ ...base, ATTACHE_ALLOW_REFS: 'none' }).ok && loadConfig({ ...base, ATTACHE_ALLOW_REFS: 'none' })).toMatchObject({ config: { allowRefs: [] } });
  });

  it('names the policy variable of every bad pattern or origin', () => {
    expect(errorsOf(loadConfig({ ...base, ATTACHE_ALLOW_REFS: 'env:AWS_*,AWS_*,file:relative/*,vault:x' }))).toEqual([
      expect.stringMatching(/^ATTACHE_ALLOW_REFS: pattern "AWS_\*" must start with env: or file:\//),
      expect.stringMatching(/^ATTACHE_ALLOW_REFS: pattern "file:relative\/\*" must start with env: or file:\//),
      expect.stringMatching(/^ATTACHE_ALLOW_REFS: pattern "vault:x" must start with env: or file:\//),
    ]);
    expect(errorsOf(loadConfig({ ...base, ATTACHE_ALLOW_REFS: 'file:/srv/../etc/*' }))).toEqual(['ATTACHE_ALLOW_REFS: pattern "file:/srv/../etc/*" must be a normalised path (no ., .. or //); write "file:/etc/*"']);
    expect(errorsOf(loadConfig(base, { allowEndpoints: 'https://ok.example,https://a.example/path,ftp://b.example,https://u:p@c.example' }))).toEqual([
      expect.stringMatching(/^--allow-endpoints: "https:\/\/a.example\/path" must be an origin only/),
      expect.stringMatching(/^--allow-endpoints: "ftp:\/\/b.example" must start with https:\/\/ or http:\/\//),
      expect.stringMatching(/^--allow-endpoints: "https:\/\/u:p@c.example" must be an origin only/),
    ]);
  });

  it('loads the policy alone, without URL or token, reserving the key, state and CA files', () => {
    const result = loadPolicyConfig({ ATTACHE_ALLOW_REFS: 'file:/srv/*', ATTACHE_KEY_FILE: '/keys/a.pem,/keys/b.pem', ATTACHE_STATE_DIR: '/var/lib/attache' });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const summary = result.policy.summary();
    expect(summary.allowRefs).toEqual(['file:/srv/*']);
    expect(summary.reserved).toEqual(expect.arrayContaining([expect.stringContaining('file:/keys/a.pem'), expect.stringContaining('file:/keys/b.pem'), expect.stringContaining('file:/var/lib/attache/**')]));
    expect(loadPolicyConfig({ ATTACHE_ALLOW_ENDPOINTS: 'nope' })).toMatchObject({ ok: false, errors: [expect.stringMatching(/^ATTACHE_ALLOW_ENDPOINTS: /)] });
  });
});

describe('policy entry bounds', () => {
  it('refuses more than 64 entries, entries over 256 characters and control characters, naming the variable', () => {
    const many = Array.from({ length: 65 }, (_, i) => `env:A${i}_*`).join(',');
    expect(errorsOf(loadConfig({ ...base, ATTACHE_ALLOW_REFS: many }))).toEqual([expect.stringMatching(/^ATTACHE_ALLOW_REFS: at most 64 entries/)]);
    expect(errorsOf(loadConfig({ ...base, ATTACHE_ALLOW_REFS: `file:/${'a'.repeat(300)}` }))).toEqual([expect.stringMatching(/^ATTACHE_ALLOW_REFS: .* longer than 256 characters/)]);
    expect(errorsOf(loadConfig({ ...base, ATTACHE_ALLOW_REFS: 'env:AWS_\u202e*' }))).toEqual([expect.stringMatching(/^ATTACHE_ALLOW_REFS: .*bidirectional/)]);
    expect(errorsOf(loadConfig({ ...base, ATTACHE_ALLOW_ENDPOINTS: `https://${'a'.repeat(300)}.example` }))[0]).toMatch(/^ATTACHE_ALLOW_ENDPOINTS: .* longer than 256 characters/);
  });
});
