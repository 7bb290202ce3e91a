import { createServer, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { createTenant, createToken, eventually, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { jsonLines, type Proc } from './support/process.js';

/**
 * `attache accounts validate` follows its task on GET /v1/events, not by polling: the control
 * plane's own request log shows the stream served, and one read of the task (the catch-up after the
 * stream opened) where polling would read it every second of a validation that takes several.
 */
describe('CLI progress from the event stream', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let delegate: Proc;
  let home: string;
  let slowAws: Server;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    // An AWS endpoint that accepts and answers nothing for 2.5 s, then hangs up: every SDK attempt is slow.
    slowAws = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      setTimeout(() => socket.destroy(), 2_500).unref();
    });
    await new Promise<void>((r) => slowAws.listen(0, '127.0.0.1', r));
    const port = (slowAws.address() as { port: number }).port;
    home = await mkdtemp(join(tmpdir(), 'attache-cli-events-'));
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'acme');
    const token = await createToken(tenant, 'cli-events');
    delegate = await startDelegate(tenant, {
      url: cp.grpcUrl,
      token: token.token,
      name: 'east',
      tags: ['aws'],
      env: {
        AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_SOME_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        AWS_SOME_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      },
    });
  });

  afterAll(async () => {
    await delegate?.stop();
    await cp?.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => slowAws.close(() => r()));
    await rm(home, { recursive: true, force: true });
  });

  it('accounts validate shows progress from GET /v1/events and reads the task once', async () => {
    const account = await tenant.api.post('/v1/aws/accounts', {
      name: 'slow',
      partition: 'aws',
      auth: { type: 'static', accessKeyId: 'env:AWS_SOME_ACCESS_KEY_ID', secretAccessKey: 'env:AWS_SOME_SECRET_ACCESS_KEY' },
      delegateSelectors: ['aws'],
    });
    expect(account.status, account.text).toBe(201);
    const started = Date.now();
    const run = await runCli(['accounts', 'validate', 'slow'], {
      env: { HOME: home, ATTACHE_CONFIG: join(home, 'none.json'), ATTACHE_API_URL: cp.httpUrl, ATTACHE_API_KEY: tenant.api.key },
      timeoutMs: 120_000,
    });
    const tookMs = Date.now() - started;
    // The endpoint never answers: the validation fails, after a while.
    expect(run.code, run.stderr).toBe(1);
    expect(run.stderr).toMatch(/^validating slow: (queued|running)/m);
    expect(run.stderr).toMatch(/^validating slow: running on delegate east/m);
    expect(tookMs).toBeGreaterThan(2_500);

    const task = (await tenant.api.get(`/v1/aws/accounts/${account.body.id}`)).body.lastTaskId as string;
    expect(task).toMatch(/^tsk_/);
    const streams = jsonLines(cp.proc).filter((l) => l['msg'] === 'event stream opened');
    expect(streams).toEqual([expect.objectContaining({ tenantId: tenant.id, taskId: task, types: ['task.state'] })]);
    await eventually(async () => (jsonLines(cp.proc).some((l) => l['msg'] === 'event stream closed') ? true : undefined), 10_000, 'the stream to close with the CLI');
    const reads = jsonLines(cp.proc).filter((l) => l['msg'] === 'request' && l['method'] === 'GET' && l['url'] === `/v1/tasks/${task}`);
    expect(reads).toHaveLength(1);
  });
});
