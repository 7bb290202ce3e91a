import { createTenant, createToken, startControlPlane, type ControlPlaneHandle, type TenantHandle } from '@attache/testkit/cluster';

export type { ControlPlaneHandle, TenantHandle };

/**
 * The control plane as users run it: its own process, embedded SQLite, production timings (not the
 * e2e suite's fast ones), the default (info) log level, and no API rate limit in the way of the load.
 */
export const BENCH_CONTROL_PLANE_ENV: Record<string, string> = {
  ATTACHE_HEARTBEAT_INTERVAL_MS: '5000',
  ATTACHE_HEARTBEAT_TIMEOUT_MS: '15000',
  ATTACHE_ACK_TIMEOUT_MS: '10000',
  ATTACHE_SWEEP_INTERVAL_MS: '500',
  ATTACHE_API_RATE_LIMIT: '1000000',
  // The connections section holds tens of thousands of one tenant's delegates on purpose.
  ATTACHE_MAX_DELEGATES_PER_TENANT: '1000000',
  // Every simulated delegate connects from 127.0.0.1, where a real fleet comes from many addresses:
  // the per-address cap on open HTTP connections (256) would otherwise refuse most NATS delegates'
  // credential requests of a 10,000-delegate storm (they registered in 35.9 s with it, 16–23 s without).
  ATTACHE_HTTP_MAX_CONNECTIONS_PER_ADDRESS: '10000',
};

export async function benchControlPlane(env: Record<string, string> = {}): Promise<ControlPlaneHandle> {
  // A restart under a reconnect storm of thousands of delegates can outlast the e2e default.
  return startControlPlane({ ...BENCH_CONTROL_PLANE_ENV, ...env }, { startTimeoutMs: 90_000 });
}

export async function tenantWithToken(cp: ControlPlaneHandle, name: string): Promise<{ tenant: TenantHandle; apiKey: string; token: string }> {
  const tenant = await createTenant(cp, name);
  const { token } = await createToken(tenant, name);
  return { tenant, apiKey: tenant.api.key, token };
}

/** Resident set size and CPU seconds of a process, from /proc (Linux). */
export async function processUsage(pid: number): Promise<{ rssBytes: number; cpuSeconds: number }> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssBytes: rssKb * 1024, cpuSeconds: ticks / 100 };
}
