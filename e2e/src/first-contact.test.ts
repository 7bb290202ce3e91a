import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/canary.js';
import { createTenant, createToken, REPO_ROOT, spawnDelegate, startControlPlane, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { freePort } from './support/ports.js';
import { Proc } from './support/process.js';

const CONTROL_PLANE_CLI = join(REPO_ROOT, 'control-plane/dist/cli.js');

/** Runs the control plane CLI until it exits (it must: every case here is a start-up refusal). */
async function controlPlaneRefuses(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'attache-first-'));
  try {
    const proc = Proc.spawn('control-plane', [CONTROL_PLANE_CLI, ...args], {
      ATTACHE_DATA_DIR: dir,
      ATTACHE_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
      ATTACHE_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
      ATTACHE_OPERATOR_KEY: 'first-contact-operator-key-0000',
      ATTACHE_LOG_LEVEL: 'warn',
      ...env,
    });
    const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
    const { code } = await proc.exited;
    clearTimeout(timer);
    return { code, output: proc.lines.join('\n') };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** What a newcomer meets first: defaults, refusals that say what to do, help that is complete. */
describe('first contact', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;

  beforeAll(async () => {
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'first-contact');
  });
  afterAll(async () => cp?.stop());

  it('an account without a partition is in the aws partition', async () => {
    const res = await tenant.api.post('/v1/aws/accounts', { name: 'no-partition', auth: { type: 'delegate' } });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ partition: 'aws', testRegion: 'us-east-1' });
  });

  it('a plain GET on the WebSocket path is 426 Upgrade Required, with the error shape and the gRPC port', async () => {
    const res = await fetch(`${cp.httpUrl}/v1/delegate/connect`);
    expect(res.status).toBe(426);
    expect(res.headers.get('upgrade')).toBe('websocket');
    const body = (await res.json()) as { error: { code: string; message: string; details: Record<string, unknown> } };
    expect(body.error.code).toBe('UPGRADE_REQUIRED');
    expect(body.error.message).toContain('WebSocket');
    expect(body.error.details['grpcPort']).toBe(Number(new URL(cp.grpcUrl).port));
  });

  it('a database it cannot use is one sentence naming ATTACHE_DATABASE_URL, exit 2, no stack, no password', async () => {
    const port = await freePort();
    const { code, output } = await controlPlaneRefuses([], { ATTACHE_DATABASE_URL: `postgres://attache:hunter2-secret@127.0.0.1:${port}/attache` });
    expect(code).toBe(2);
    const lines = output.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^attache-control-plane: Cannot use the PostgreSQL database postgres:\/\/attache:\*\*\*@127\.0\.0\.1:\d+\/attache \(ATTACHE_DATABASE_URL\): .*ECONNREFUSED.*\.$/);
    expect(output).not.toContain('hunter2');
    expect(output).not.toMatch(/\n\s+at /);
  });

  it('a missing TLS file is one sentence naming the setting and the file, exit 2', async () => {
    const missing = join(tmpdir(), 'attache-no-such-dir', 'cert.pem');
    const { code, output } = await controlPlaneRefuses([], { ATTACHE_GRPC_TLS_CERT: missing, ATTACHE_GRPC_TLS_KEY: missing.replace('cert', 'key') });
    expect(code).toBe(2);
    const lines = output.split('\n').filter((l) => l.trim() !== '');
    expect(lines).toEqual([`attache-control-plane: Cannot read the gRPC TLS certificate ${missing} (ATTACHE_GRPC_TLS_CERT): no such file or directory.`]);
  });

  it('a data directory it cannot create is one sentence naming ATTACHE_DATA_DIR, exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'attache-first-file-'));
    try {
      // A path below a regular file cannot be a directory, whoever runs the test.
      const file = join(dir, 'plain-file');
      await writeFile(file, '');
      const { code, output } = await controlPlaneRefuses([], { ATTACHE_DATA_DIR: join(file, 'data') });
      expect(code).toBe(2);
      expect(output.split('\n').filter((l) => l.trim() !== '')).toEqual([
        `attache-control-plane: Cannot create the data directory ${join(file, 'data')} (ATTACHE_DATA_DIR): not a directory.`,
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a bad flag value is reported by the flag's name", async () => {
    const { code, output } = await controlPlaneRefuses(['--http-addr', 'nowhere', '--log-level', 'loud'], {});
    expect(code).toBe(2);
    expect(output).toContain('--http-addr (ATTACHE_HTTP_ADDR): expected host:port');
    expect(output).toMatch(/--log-level \(ATTACHE_LOG_LEVEL\): /);
    // A variable (not a flag) is still named as the variable.
    const env = await controlPlaneRefuses([], { ATTACHE_HTTP_ADDR: 'nowhere' });
    expect(env.output).toContain('ATTACHE_HTTP_ADDR: expected host:port');
    expect(env.output).not.toContain('--http-addr');
  });

  it('attache-delegate --help lists every URL scheme it accepts', async () => {
    const { stdout } = await runCli(['--help']);
    const help = stdout.replaceAll(/\s+/g, ' ');
    for (const scheme of ['grpc://', 'grpcs://', 'ws://', 'wss://', 'nats://', 'tls://']) expect(help).toContain(scheme);
  });

  it("a grpc:// URL aimed at the HTTP port says so and names the gRPC port", async () => {
    const { token } = await createToken(tenant, 'wrong-port');
    const httpPort = new URL(cp.httpUrl).port;
    const grpcPort = new URL(cp.grpcUrl).port;
    const delegate = spawnDelegate({ url: `grpc://127.0.0.1:${httpPort}`, token, name: 'wrong-port' });
    try {
      const line = await delegate.waitForLine((l) => l.includes('looks like the control plane'), 20_000);
      expect(line).toContain(`grpc://127.0.0.1:${httpPort} answers HTTP/1.1, not gRPC: this looks like the control plane's HTTP port; the gRPC port is ${grpcPort}`);
    } finally {
      await delegate.stop();
    }
  });
});
