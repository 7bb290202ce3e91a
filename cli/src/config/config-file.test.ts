import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CliError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { configPath, readConfig, writeConfig } from './config-file.js';
import { resolveConnection } from './connection.js';

describe('configPath', () => {
  it('ATTACHE_CONFIG, else XDG_CONFIG_HOME/attache, else ~/.config/attache', () => {
    expect(configPath({ ATTACHE_CONFIG: '/x/c.json', XDG_CONFIG_HOME: '/xdg' })).toBe('/x/c.json');
    expect(configPath({ XDG_CONFIG_HOME: '/xdg' })).toBe('/xdg/attache/config.json');
    expect(configPath({})).toBe(join(homedir(), '.config', 'attache', 'config.json'));
  });
});

describe('config file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'attache-cli-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const config = { currentContext: 'prod', contexts: { prod: { url: 'https://attache.example.com', apiKey: 'atk_secret' } } };

  it('a missing file is an empty configuration', async () => {
    expect(await readConfig(join(dir, 'none.json'))).toEqual({ currentContext: null, contexts: {} });
  });

  it('writes 0600 in a 0700 directory, tightening the default directory, and reads back what it wrote', async () => {
    const xdg = join(dir, 'xdg');
    await mkdir(join(xdg, 'attache'), { recursive: true, mode: 0o755 });
    const path = configPath({ XDG_CONFIG_HOME: xdg });
    await writeConfig(path, config, { XDG_CONFIG_HOME: xdg });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(xdg, 'attache'))).mode & 0o777).toBe(0o700);
    expect(await readConfig(path)).toEqual(config);
    // Written through a temporary sibling: nothing else is left in the directory.
    expect(await readdir(join(xdg, 'attache'))).toEqual(['config.json']);
  });

  it('keeps 0600 when replacing a file someone widened', async () => {
    const path = join(dir, 'c.json');
    await writeFile(path, '{}', { mode: 0o644 });
    await chmod(path, 0o644);
    await writeConfig(path, config, { ATTACHE_CONFIG: path });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('a directory named by ATTACHE_CONFIG is created 0700 when missing, and left alone when it exists', async () => {
    const created = join(dir, 'new', 'c.json');
    await writeConfig(created, config, { ATTACHE_CONFIG: created });
    expect((await stat(join(dir, 'new'))).mode & 0o777).toBe(0o700);
    await chmod(dir, 0o755);
    await writeConfig(join(dir, 'c.json'), config, { ATTACHE_CONFIG: join(dir, 'c.json') });
    expect((await stat(dir)).mode & 0o777).toBe(0o755);
  });

  it('refuses a file that is not JSON or not a configuration, naming the file (usage exit)', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{not json');
    await expect(readConfig(path)).rejects.toMatchObject({ code: 'CONFIG_INVALID', exitCode: ExitCode.USAGE, message: expect.stringContaining(path) });
    await writeFile(path, JSON.stringify({ contexts: { a: { url: 'ftp://x', apiKey: 'k' } } }));
    await expect(readConfig(path)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('contexts.a.url') });
  });

  it('holds a browser sign-in\'s session instead of an API key, never both or neither', async () => {
    const path = join(dir, 'c.json');
    const session = { token: 'ats_session', user: 'ann@example.com', tenant: 'acme', role: 'admin', expiresAt: '2030-01-01T00:00:00.000Z', idleTimeoutSeconds: 1800 };
    const withSession = { currentContext: 'sso', contexts: { sso: { url: 'https://attache.example.com', session } } };
    await writeConfig(path, withSession, { ATTACHE_CONFIG: path });
    expect(await readConfig(path)).toEqual(withSession);
    expect(await resolveConnection({}, { ATTACHE_CONFIG: path })).toEqual({ url: 'https://attache.example.com', token: 'ats_session', context: 'sso' });
    for (const context of [{ url: 'https://a.example' }, { url: 'https://a.example', apiKey: 'atk_x', session }]) {
      await writeFile(path, JSON.stringify({ contexts: { a: context } }));
      await expect(readConfig(path)).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('either apiKey or session') });
    }
  });

  describe('resolveConnection', () => {
    const path = () => join(dir, 'c.json');
    beforeEach(async () => {
      await writeConfig(path(), { currentContext: 'prod', contexts: { prod: config.contexts.prod, dev: { url: 'http://127.0.0.1:8080', apiKey: 'atk_dev' } } }, { ATTACHE_CONFIG: path() });
    });

    it('uses the current context, or the one --context names', async () => {
      expect(await resolveConnection({}, { ATTACHE_CONFIG: path() })).toEqual({ url: 'https://attache.example.com', token: 'atk_secret', context: 'prod' });
      expect(await resolveConnection({ context: 'dev' }, { ATTACHE_CONFIG: path() })).toEqual({ url: 'http://127.0.0.1:8080', token: 'atk_dev', context: 'dev' });
    });

    it('ATTACHE_API_URL and ATTACHE_API_KEY override the context field by field', async () => {
      expect(await resolveConnection({}, { ATTACHE_CONFIG: path(), ATTACHE_API_KEY: 'atk_ci' })).toEqual({ url: 'https://attache.example.com', token: 'atk_ci', context: 'prod' });
      expect(await resolveConnection({}, { ATTACHE_CONFIG: join(dir, 'none.json'), ATTACHE_API_URL: 'http://cp', ATTACHE_API_KEY: 'atk_ci' })).toEqual({ url: 'http://cp', token: 'atk_ci', context: null });
    });

    it('an unknown context is exit 4; nothing to connect with is NOT_LOGGED_IN, exit 3', async () => {
      const unknown = await resolveConnection({ context: 'nope' }, { ATTACHE_CONFIG: path() }).catch((e: unknown) => e);
      expect(unknown).toBeInstanceOf(CliError);
      expect(unknown).toMatchObject({ code: 'CONTEXT_NOT_FOUND', exitCode: ExitCode.NOT_FOUND });
      await expect(resolveConnection({}, { ATTACHE_CONFIG: join(dir, 'none.json'), ATTACHE_API_URL: 'http://cp' })).rejects.toMatchObject({ code: 'NOT_LOGGED_IN', exitCode: ExitCode.AUTH });
    });
  });
});
