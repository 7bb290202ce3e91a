import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import type { Proc } from './support/process.js';

/** Runs `promtool check metrics` (Debian's prometheus package) on `text`, as a scrape config check would. */
function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.once('error', (err) => reject(new Error(`promtool is needed (Debian package prometheus; scripts/install-test-deps.sh installs it): ${err.message}`)));
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

/** The real /metrics of a control plane that has served tasks and a delegate, through the real promtool. */
describe('/metrics passes promtool check metrics', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let delegate: Proc;

  beforeAll(async () => {
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'metrics');
    delegate = await startDelegate(tenant, { url: cp.grpcUrl, token: (await createToken(tenant)).token, name: 'metrics-east' });
    // Every metric family with samples: a task that succeeds, one no delegate can take.
    const ok = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'm' }, selectors: ['metrics-east'] });
    expect((await tenant.api.get(`/v1/tasks/${ok.body.id}?waitSeconds=20`)).body.state).toBe('succeeded');
    const refused = await tenant.api.post('/v1/tasks', { type: 'echo', selectors: ['no-such-tag'] });
    expect(refused.status).toBe(201);
  });
  afterAll(async () => {
    await delegate?.stop();
    await cp?.stop();
  });

  it('reports no problem', async () => {
    const res = await fetch(`${cp.httpUrl}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('attache_tasks_ended_total{');
    expect(text).toContain('attache_nodejs_active_handles');
    const { code, output } = await promtoolCheck(text);
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('would report the gauges prom-client names *_total (the check is not vacuous)', async () => {
    const { code, output } = await promtoolCheck('# HELP x_active_total Active things.\n# TYPE x_active_total gauge\nx_active_total 1\n');
    expect(output).toContain('non-counter metrics should not have "_total" suffix');
    expect(code).not.toBe(0);
  });
});
