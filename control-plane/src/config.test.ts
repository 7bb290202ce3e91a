import { describe, expect, it } from 'vitest';
import { DELEGATE_RELEASE } from '@attache/proto';
import { ConfigError, loadConfig } from './config.js';

/** The configuration's problems for an environment, one a line; empty when it loads. */
function problems(env: Record<string, string>): string {
  try {
    loadConfig(env);
    return '';
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.join('\n');
    throw err;
  }
}

describe('control-plane config: edge limits', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({});
    expect({
      tasks: c.maxQueuedTasksPerTenant,
      bytes: c.maxQueuedPayloadBytesPerTenant,
      days: c.taskRetentionDays,
      interval: c.taskRetentionIntervalSeconds,
      metrics: c.metricsToken,
      http: c.http,
    }).toEqual({
      tasks: 10_000,
      bytes: 64 * 1024 * 1024,
      days: 30,
      interval: 3_600,
      metrics: undefined,
      http: { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 72_000, maxConnections: 10_000, maxConnectionsPerAddress: 256 },
    });
  });

  it('refuses limits that contradict each other or make no sense, naming the variables', () => {
    expect(problems({ ATTACHE_HTTP_MAX_CONNECTIONS: '10', ATTACHE_HTTP_MAX_CONNECTIONS_PER_ADDRESS: '20' })).toMatch(/ATTACHE_HTTP_MAX_CONNECTIONS_PER_ADDRESS must not be larger than ATTACHE_HTTP_MAX_CONNECTIONS/);
    expect(problems({ ATTACHE_HTTP_HEADERS_TIMEOUT_MS: '20000', ATTACHE_HTTP_REQUEST_TIMEOUT_MS: '10000' })).toMatch(/ATTACHE_HTTP_REQUEST_TIMEOUT_MS/);
    expect(problems({ ATTACHE_TASK_RETENTION_DAYS: '0' })).toMatch(/ATTACHE_TASK_RETENTION_DAYS/);
    expect(problems({ ATTACHE_MAX_QUEUED_TASKS_PER_TENANT: 'lots' })).toMatch(/ATTACHE_MAX_QUEUED_TASKS_PER_TENANT/);
    expect(problems({ ATTACHE_METRICS_TOKEN: 'short' })).toMatch(/ATTACHE_METRICS_TOKEN/);
    expect(problems({ ATTACHE_CURRENT_DELEGATE_VERSION: 'latest' })).toMatch(/ATTACHE_CURRENT_DELEGATE_VERSION: expected a semantic version/);
    expect(problems({ ATTACHE_OIDC_INSECURE_ISSUERS: 'https://idp.example' })).toMatch(/ATTACHE_OIDC_INSECURE_ISSUERS: "https:\/\/idp.example" is not an http:\/\/ origin/);
    expect(problems({ ATTACHE_OIDC_INSECURE_ISSUERS: 'http://127.0.0.1:9000/realms/x' })).toMatch(/ATTACHE_OIDC_INSECURE_ISSUERS/);
    expect(problems({ ATTACHE_OIDC_SECRET_KEY: 'too short' })).toMatch(/ATTACHE_OIDC_SECRET_KEY/);
  });

  it('keeps the audit trail 365 days and sessions 30 min idle, 12 h at most, unless configured', () => {
    expect({ audit: loadConfig({}).auditRetentionDays, sessions: loadConfig({}).sessions }).toEqual({ audit: 365, sessions: { idleMs: 1_800_000, absoluteMs: 43_200_000 } });
    const c = loadConfig({ ATTACHE_AUDIT_RETENTION_DAYS: '2555', ATTACHE_SESSION_IDLE_SECONDS: '600', ATTACHE_SESSION_MAX_SECONDS: '3600' });
    expect({ audit: c.auditRetentionDays, sessions: c.sessions }).toEqual({ audit: 2555, sessions: { idleMs: 600_000, absoluteMs: 3_600_000 } });
    expect(problems({ ATTACHE_AUDIT_RETENTION_DAYS: '0' })).toMatch(/ATTACHE_AUDIT_RETENTION_DAYS/);
    expect(problems({ ATTACHE_SESSION_IDLE_SECONDS: '7200', ATTACHE_SESSION_MAX_SECONDS: '3600' })).toMatch(/ATTACHE_SESSION_IDLE_SECONDS must not exceed ATTACHE_SESSION_MAX_SECONDS/);
  });

  it('measures delegates against the release built with it unless an operator pins another', () => {
    expect(loadConfig({}).currentDelegateVersion).toBe(DELEGATE_RELEASE);
    expect(loadConfig({ ATTACHE_CURRENT_DELEGATE_VERSION: '0.0.9' }).currentDelegateVersion).toBe('0.0.9');
  });

  it('reads the OIDC settings: insecure issuer origins, the sign-in time limit, the CLI code lifetime', () => {
    expect(loadConfig({}).oidc).toEqual({ secretKey: undefined, insecureIssuers: [], loginTtlMs: 600_000, cliCodeTtlMs: 60_000 });
    const c = loadConfig({ ATTACHE_OIDC_INSECURE_ISSUERS: 'http://127.0.0.1:9000, http://localhost:8080/', ATTACHE_OIDC_LOGIN_TTL_SECONDS: '120', ATTACHE_OIDC_CLI_CODE_SECONDS: '30' });
    expect(c.oidc).toMatchObject({ insecureIssuers: ['http://127.0.0.1:9000', 'http://localhost:8080'], loginTtlMs: 120_000, cliCodeTtlMs: 30_000 });
    expect(() => loadConfig({ ATTACHE_OIDC_CLI_CODE_SECONDS: '1' })).toThrow(/ATTACHE_OIDC_CLI_CODE_SECONDS/);
  });
});
