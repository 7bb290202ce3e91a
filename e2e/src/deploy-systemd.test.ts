import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, REPO_ROOT, startControlPlane, waitForDelegates } from './support/cluster.js';
import { freePort } from './support/ports.js';
import { Proc } from './support/process.js';

const run = promisify(execFile);
const UNIT = join(REPO_ROOT, 'deploy/systemd/attache-delegate.service');
const ENV_FILE = join(REPO_ROOT, 'deploy/systemd/attache-delegate.env');
const DELEGATE_CLI = join(REPO_ROOT, 'delegate/dist/cli.js');

/** `systemd-analyze` with its exit code and all it printed (verify reports unknown keys as warnings, exit 0). */
async function analyze(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('systemd-analyze', args, { env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '' } });
    return { code: 0, output: stdout + stderr };
  } catch (error: any) {
    return { code: typeof error.code === 'number' ? error.code : 1, output: `${error.stdout ?? ''}${error.stderr ?? ''}` };
  }
}

async function readEnvFile(): Promise<Record<string, string>> {
  return Object.fromEntries(
    (await readFile(ENV_FILE, 'utf8'))
      .split('\n')
      .map((l) => /^([A-Z_a-z]+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
}

/** Directives of the [Service] section (last wins, as systemd reads them; repeated ones joined). */
function serviceDirectives(unit: string): Map<string, string[]> {
  const section = unit.split(/^\[Service\]$/m)[1]!.split(/^\[/m)[0]!;
  const directives = new Map<string, string[]>();
  for (const line of section.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) directives.set(m[1]!, [...(directives.get(m[1]!) ?? []), m[2]!]);
  }
  return directives;
}

/**
 * deploy/systemd/attache-delegate.service, checked by systemd's own `systemd-analyze verify` and
 * `security`. verify insists that ExecStart's program exists, so the copy it checks runs this
 * machine's node on the delegate built from this checkout instead of the /opt/attache install path;
 * nothing else of the unit changes.
 */
describe('systemd unit for the delegate', () => {
  let dir: string;
  let unit: string;
  let copy: string;

  beforeAll(async () => {
    await access(DELEGATE_CLI); // npm run build first
    dir = await mkdtemp(join(tmpdir(), 'attache-systemd-'));
    unit = await readFile(UNIT, 'utf8');
    const execStart = serviceDirectives(unit).get('ExecStart')![0]!;
    expect(execStart).toBe('/usr/bin/node /opt/attache/delegate/dist/cli.js');
    copy = join(dir, 'attache-delegate.service');
    await writeFile(copy, unit.replace(`ExecStart=${execStart}`, `ExecStart=${process.execPath} ${DELEGATE_CLI}`));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('systemd-analyze verify finds nothing to say', async () => {
    const verify = await analyze(['verify', copy]);
    expect(verify.output.trim()).toBe('');
    expect(verify.code).toBe(0);
  });

  it('verify is really reading the unit: a misspelt directive and a missing program are reported', async () => {
    const typo = join(dir, 'typo', 'attache-delegate.service');
    await run('mkdir', ['-p', join(dir, 'typo')]);
    await writeFile(typo, (await readFile(copy, 'utf8')).replace('ProtectSystem=strict', 'ProtectSystm=strict'));
    expect((await analyze(['verify', typo])).output).toMatch(/Unknown key '?ProtectSystm'?/);

    const missing = join(dir, 'missing', 'attache-delegate.service');
    await run('mkdir', ['-p', join(dir, 'missing')]);
    await writeFile(missing, unit.replace('ExecStart=/usr/bin/node', 'ExecStart=/nonexistent/node'));
    const result = await analyze(['verify', missing]);
    expect(result.code).not.toBe(0);
    expect(result.output).toMatch(/not executable/);
  });

  it('is hardened: its own user, read-only system, no new privileges, private /tmp; exposure rated OK by systemd-analyze security', async () => {
    const d = serviceDirectives(unit);
    expect(d.get('EnvironmentFile')).toEqual(['/etc/attache/delegate.env']);
    expect(d.get('DynamicUser')).toEqual(['yes']);
    expect(d.get('ProtectSystem')).toEqual(['strict']);
    expect(d.get('NoNewPrivileges')).toEqual(['yes']);
    expect(d.get('PrivateTmp')).toEqual(['yes']);
    expect(d.get('CapabilityBoundingSet')).toEqual(['']);

    // Threshold is 10x the exposure score: at most 2.0 of 10 ("OK" is below 3).
    const security = await analyze(['security', '--offline=yes', '--threshold=20', '--no-pager', copy]);
    expect(security.output).toMatch(/Overall exposure level for attache-delegate\.service: [0-1]\.\d OK/);
    expect(security.code).toBe(0);
  });

  it('drains before it is killed, restarts on failure but not on bad configuration, and keeps its state', async () => {
    const d = serviceDirectives(unit);
    const env = await readEnvFile();
    expect(d.get('KillSignal')).toEqual(['SIGTERM']);
    const drain = Number(env['ATTACHE_DRAIN_GRACE_SECONDS']);
    expect(drain).toBe(30);
    expect(Number(d.get('TimeoutStopSec')![0])).toBeGreaterThan(drain);
    expect(d.get('Restart')).toEqual(['on-failure']);
    // The delegate's exit codes: 2 bad configuration, 3 token revoked or unknown.
    expect(d.get('RestartPreventExitStatus')).toEqual(['2 3']);
    // ATTACHE_STATE_DIR is the directory systemd creates for the unit's user.
    expect(d.get('StateDirectory')).toEqual(['attache-delegate']);
    expect(d.get('Environment')).toContain('ATTACHE_STATE_DIR=/var/lib/attache-delegate');
    // The example environment names the variables the delegate reads.
    for (const name of ['ATTACHE_URL', 'ATTACHE_TOKEN', 'ATTACHE_DELEGATE_NAME', 'ATTACHE_TAGS', 'ATTACHE_ALLOW_REFS']) {
      expect(env, name).toHaveProperty(name);
    }
    expect(await readFile(ENV_FILE, 'utf8')).toContain('#ATTACHE_ALLOW_ENDPOINTS=https://');
  });

  it('the real delegate accepts the example environment file and registers with its name and tags', async () => {
    const cp = await startControlPlane();
    const stateDir = await mkdtemp(join(tmpdir(), 'attache-systemd-state-'));
    try {
      const tenant = await createTenant(cp, 'systemd-e2e');
      const { token } = await createToken(tenant, 'vm');
      const env = await readEnvFile();
      // What the unit and the installer provide here instead: a real control plane and token, the
      // unit's state directory (Environment=), a health port free on this machine.
      const delegate = Proc.spawn('delegate:systemd', [DELEGATE_CLI], {
        ...env,
        ATTACHE_URL: cp.grpcUrl,
        ATTACHE_TOKEN: token,
        ATTACHE_STATE_DIR: stateDir,
        ATTACHE_HEALTH_ADDR: `127.0.0.1:${await freePort()}`,
      });
      try {
        const [registered] = await waitForDelegates(tenant, env['ATTACHE_DELEGATE_NAME']!);
        expect(registered.tags).toEqual(expect.arrayContaining(env['ATTACHE_TAGS']!.split(',')));
        expect(registered.maxConcurrency).toBe(Number(env['ATTACHE_MAX_CONCURRENCY']));
        delegate.kill('SIGTERM');
        expect((await delegate.exited).code).toBe(0);
      } finally {
        await delegate.stop();
      }
    } finally {
      await cp.stop();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
