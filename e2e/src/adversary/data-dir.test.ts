import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Api } from '../support/api.js';
import { REPO_ROOT } from '../support/cluster.js';
import { freePort } from '../support/ports.js';
import { Proc } from '../support/process.js';

const CLI = join(REPO_ROOT, 'control-plane/dist/cli.js');

async function modes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = { '.': ((await stat(dir)).mode & 0o777).toString(8) };
  const walk = async (sub: string) => {
    for (const name of await readdir(join(dir, sub))) {
      const rel = sub ? `${sub}/${name}` : name;
      const st = await stat(join(dir, rel));
      out[rel] = (st.mode & 0o777).toString(8);
      if (st.isDirectory()) await walk(rel);
    }
  };
  await walk('');
  return out;
}

/**
 * What the control plane leaves on disk: the data dir and everything in it private to its user,
 * also when the directory existed with wider modes; a generated operator key shown on a terminal
 * only, never in the log.
 */
describe('data dir and operator key', () => {
  const dirs: string[] = [];
  const procs: Proc[] = [];
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.stop(3_000)));
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  async function launch(dataDir: string): Promise<{ proc: Proc; url: string }> {
    const port = await freePort();
    const proc = Proc.spawn('control-plane', [CLI], {
      ATTACHE_DATA_DIR: dataDir,
      ATTACHE_HTTP_ADDR: `127.0.0.1:${port}`,
      ATTACHE_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
    });
    procs.push(proc);
    await proc.waitForLine((l) => l.includes('control plane started'));
    return { proc, url: `http://127.0.0.1:${port}` };
  }

  it('keeps the database, its WAL and SHM files and the key at 0600 in a 0700 dir, and tightens a dir that existed with wider modes', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'attache-datadir-'));
    dirs.push(parent);
    const dataDir = join(parent, 'data');
    await mkdir(dataDir);
    await chmod(dataDir, 0o777);

    const first = await launch(dataDir);
    const key = (await readFile(join(dataDir, 'operator.key'), 'utf8')).trim();
    // Writes, so the WAL has content and the SHM is in use.
    const tenant = await new Api(first.url, key).post('/v1/tenants', { name: 'files' });
    expect(tenant.status).toBe(201);
    expect(await modes(dataDir)).toEqual({ '.': '700', 'attache.db': '600', 'attache.db-wal': '600', 'attache.db-shm': '600', 'operator.key': '600', 'oidc-secret.key': '600' });
    // stderr is not a terminal here: the key is not printed, the file is named instead.
    expect(first.proc.lines.join('\n')).not.toContain(key);
    expect(first.proc.lines.join('\n')).toContain(`saved in ${join(dataDir, 'operator.key')}`);
    await first.proc.stop();

    // Someone widened everything, and added files of their own, while it was stopped.
    await chmod(dataDir, 0o755);
    for (const f of ['attache.db', 'operator.key']) await chmod(join(dataDir, f), 0o644);
    await writeFile(join(dataDir, 'notes.txt'), 'x', { mode: 0o666 });
    await chmod(join(dataDir, 'notes.txt'), 0o666);
    await mkdir(join(dataDir, 'delegate'), { mode: 0o755 });
    await writeFile(join(dataDir, 'delegate', 'state'), 'y');
    await chmod(join(dataDir, 'delegate', 'state'), 0o644);

    const second = await launch(dataDir);
    expect((await new Api(second.url, key).post('/v1/tenants', { name: 'files-2' })).status).toBe(201);
    const after = await modes(dataDir);
    expect(after).toMatchObject({ '.': '700', 'attache.db': '600', 'attache.db-wal': '600', 'attache.db-shm': '600', 'operator.key': '600', 'notes.txt': '600', delegate: '700', 'delegate/state': '600' });
    expect(Object.entries(after).filter(([, m]) => m !== '600' && m !== '700')).toEqual([]);
    // A key read from the file is not announced again.
    expect(second.proc.lines.join('\n')).not.toContain(key);
    expect(second.proc.lines.join('\n')).not.toContain('operator key was generated');
  });

  it('prints a generated operator key once on a terminal, and never into the JSON log', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'attache-tty-'));
    dirs.push(dataDir);
    const port = await freePort();
    // util-linux script(1) gives the control plane a pseudo-terminal as stdout and stderr.
    const child = spawn('script', ['-qfec', `${process.execPath} ${CLI}`, '/dev/null'], {
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '/tmp',
        ATTACHE_DATA_DIR: dataDir,
        ATTACHE_HTTP_ADDR: `127.0.0.1:${port}`,
        ATTACHE_GRPC_ADDR: `127.0.0.1:${await freePort()}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new Proc(child, 'control-plane (tty)');
    procs.push(proc);
    await proc.waitForLine((l) => l.includes('control plane started'));
    const key = (await readFile(join(dataDir, 'operator.key'), 'utf8')).trim();
    const output = proc.lines.join('\n');
    expect(output.split(key).length - 1).toBe(1);
    expect(output).toMatch(/Operator key \(shown once/);
    const logLines = proc.lines.map((l) => l.trim()).filter((l) => l.startsWith('{'));
    expect(logLines.length).toBeGreaterThan(0);
    for (const l of logLines) expect(l).not.toContain(key);
  });
});
