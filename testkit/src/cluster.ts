import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Api } from './api.js';
import { freePort } from './ports.js';
import { Proc } from './process.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CONTROL_PLANE_CLI = join(REPO_ROOT, 'control-plane/dist/cli.js');
const DELEGATE_CLI = join(REPO_ROOT, 'delegate/dist/cli.js');

/** Short timings so loss detection and timeouts happen within a test's patience. */
export const FAST_TIMINGS: Record<string, string> = {
  ATTACHE_HEARTBEAT_INTERVAL_MS: '200',
  ATTACHE_HEARTBEAT_TIMEOUT_MS: '1500',
  ATTACHE_ACK_TIMEOUT_MS: '3000',
  ATTACHE_SWEEP_INTERVAL_MS: '100',
};

export interface ControlPlaneHandle {
  proc: Proc;
  operator: Api;
  httpUrl: string;
  grpcUrl: string;
  dataDir: string;
  /** Stops (SIGTERM or SIGKILL) and starts again on the same ports and data. */
  restart(signal?: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  /** Open file descriptors the process may have (`ulimit -n`), as on hosts with a low default. */
  fdLimit?: number;
  /** Listen on this HTTP port (when something must know the address before start: ATTACHE_PUBLIC_URL). */
  httpPort?: number;
  /** How long a start (or restart) may take to log "control plane started"; default 20 s. */
  startTimeoutMs?: number;
}

/**
 * With ATTACHE_PROFILE_DIR set in the launcher's environment, each control plane writes a V8 CPU
 * profile there when it exits (open it in Chrome DevTools or speedscope): how the bench explains a miss.
 */
function profileArgs(): string[] {
  const dir = process.env['ATTACHE_PROFILE_DIR'];
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

export async function startControlPlane(env: Record<string, string> = {}, options: ControlPlaneOptions = {}): Promise<ControlPlaneHandle> {
  const dataDir = await mkdtemp(join(tmpdir(), 'attache-cp-'));
  const httpPort = options.httpPort ?? (await freePort());
  const grpcPort = await freePort();
  const operatorKey = `atop_e2e_${Math.random().toString(36).slice(2)}_operator_key`;
  const fullEnv = {
    ATTACHE_DATA_DIR: dataDir,
    ATTACHE_HTTP_ADDR: `127.0.0.1:${httpPort}`,
    ATTACHE_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
    ATTACHE_OPERATOR_KEY: operatorKey,
    ATTACHE_LOG_LEVEL: 'info',
    ...FAST_TIMINGS,
    ...env,
  };
  const httpUrl = `http://127.0.0.1:${httpPort}`;
  const launch = async (): Promise<Proc> => {
    const proc =
      options.fdLimit === undefined
        ? Proc.spawn('control-plane', [...profileArgs(), CONTROL_PLANE_CLI], fullEnv)
        : new Proc(
            spawn('/bin/sh', ['-c', `ulimit -n ${options.fdLimit} && exec "$0" "$@"`, process.execPath, CONTROL_PLANE_CLI], {
              env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '/tmp', ...fullEnv },
              stdio: ['ignore', 'pipe', 'pipe'],
            }),
            'control-plane',
          );
    await proc.waitForLine((l) => l.includes('control plane started'), options.startTimeoutMs);
    return proc;
  };
  const handle: ControlPlaneHandle = {
    proc: await launch(),
    operator: new Api(httpUrl, operatorKey),
    httpUrl,
    grpcUrl: `grpc://127.0.0.1:${grpcPort}`,
    dataDir,
    async restart(signal: NodeJS.Signals = 'SIGTERM') {
      handle.proc.kill(signal);
      await handle.proc.exited;
      handle.proc = await launch();
    },
    async stop() {
      await handle.proc.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return handle;
}

export interface TenantHandle {
  id: string;
  name: string;
  api: Api;
  externalId: string;
}

export async function createTenant(cp: ControlPlaneHandle, name: string): Promise<TenantHandle> {
  const res = await cp.operator.post('/v1/tenants', { name });
  if (res.status !== 201) throw new Error(`creating tenant failed: ${res.status} ${res.text}`);
  const api = cp.operator.withKey(res.body.apiKey);
  const ext = await api.get('/v1/aws/external-id');
  return { id: res.body.id, name, api, externalId: ext.body.externalId };
}

export async function createToken(tenant: TenantHandle, name = 'e2e'): Promise<{ id: string; token: string }> {
  const res = await tenant.api.post('/v1/delegate-tokens', { name });
  if (res.status !== 201) throw new Error(`creating token failed: ${res.status} ${res.text}`);
  return { id: res.body.id, token: res.body.token };
}

export interface DelegateOptions {
  url: string;
  token: string;
  name: string;
  tags?: string[];
  maxConcurrency?: number;
  env?: Record<string, string>;
}

export function spawnDelegate(opts: DelegateOptions): Proc {
  return Proc.spawn(`delegate:${opts.name}`, [DELEGATE_CLI], {
    ATTACHE_URL: opts.url,
    ATTACHE_TOKEN: opts.token,
    ATTACHE_DELEGATE_NAME: opts.name,
    ATTACHE_TAGS: (opts.tags ?? []).join(','),
    ATTACHE_MAX_CONCURRENCY: String(opts.maxConcurrency ?? 4),
    ATTACHE_LOG_LEVEL: 'info',
    ...(opts.env ?? {}),
  });
}

/** Waits until the tenant lists `count` connected delegates named `name`. */
export async function waitForDelegates(tenant: TenantHandle, name: string, count = 1, timeoutMs = 20_000): Promise<any[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Every page: a large run (or many recently disconnected rows) outgrows one.
    const items: any[] = [];
    let res = await tenant.api.get('/v1/delegates?limit=500');
    items.push(...(res.body?.items ?? []));
    while (res.body?.nextCursor) {
      res = await tenant.api.get(`/v1/delegates?limit=500&cursor=${encodeURIComponent(res.body.nextCursor)}`);
      items.push(...(res.body?.items ?? []));
    }
    const found = items.filter((d: any) => d.name === name && d.status === 'connected');
    if (found.length >= count) return found;
    if (Date.now() > deadline) throw new Error(`delegate ${name} not connected within ${timeoutMs} ms: ${res.text}`);
    await sleep(100);
  }
}

export async function startDelegate(tenant: TenantHandle, opts: DelegateOptions): Promise<Proc> {
  const proc = spawnDelegate(opts);
  await waitForDelegates(tenant, opts.name);
  return proc;
}

/** Polls until `check` returns a value other than undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
