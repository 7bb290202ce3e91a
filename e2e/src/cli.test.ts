import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { runCli, startCli, type CliRun } from './support/cli.js';
import { createTenant, REPO_ROOT, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { setupAwsIdentities, startMoto, type MotoIdentities, type MotoServer } from './support/moto.js';
import type { Proc } from './support/process.js';

const execFileAsync = promisify(execFile);

/**
 * The built `attache` CLI as a user runs it: a process against a real control plane, a real
 * delegate (started with a token the CLI created) and moto_server with authentication enforced.
 * Nothing is checked through a back door: what the CLI printed, its exit code, its config file.
 */
describe('attache CLI end to end', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let moto: MotoServer;
  let ids: MotoIdentities;
  let delegate: Proc | undefined;
  let home: string;
  let env: Record<string, string>;

  const GROUP = 'vpc-east';
  const cli = (args: string[], input?: string): Promise<CliRun> => runCli(args, { env, ...(input !== undefined ? { input } : {}) });
  const ok = async (args: string[], input?: string): Promise<CliRun> => {
    const run = await cli(args, input);
    expect(run.code, `attache ${args.join(' ')}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`).toBe(0);
    return run;
  };
  const json = async (args: string[], input?: string): Promise<any> => JSON.parse((await ok([...args, '-o', 'json'], input)).stdout);

  beforeAll(async () => {
    cp = await startControlPlane();
    tenant = await createTenant(cp, 'cli-e2e');
    moto = await startMoto();
    ids = await setupAwsIdentities(moto.endpoint, { externalId: tenant.externalId });
    await moto.enforceAuth();
    home = await mkdtemp(join(tmpdir(), 'attache-cli-home-'));
    // XDG_CONFIG_HOME, so the test also proves where the file goes by default.
    env = { HOME: home, XDG_CONFIG_HOME: join(home, 'xdg') };
  }, 120_000);

  afterAll(async () => {
    await delegate?.stop();
    await moto?.stop();
    await cp?.stop();
    if (home) await rm(home, { recursive: true, force: true });
  });

  const apiKey = () => tenant.api.key;

  it('a wrong API key: login exits 3 with the API\'s code and saves nothing', async () => {
    const run = await cli(['login', '--url', cp.httpUrl, '--api-key', 'atk_not_a_real_key']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^error: UNAUTHENTICATED: The API key is not valid/m);
    expect(run.stdout + run.stderr).not.toContain('atk_not_a_real_key');
    await expect(stat(join(home, 'xdg', 'attache', 'config.json'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('without a context, commands exit 3 and say how to log in', async () => {
    const run = await cli(['accounts', 'list']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/^error: NOT_LOGGED_IN: .*attache login/m);
  });

  it('login stores a context 0600 in a 0700 directory, never printing the key', async () => {
    const run = await ok(['--context', 'e2e', 'login', '--url', cp.httpUrl, '--api-key', apiKey()]);
    expect(run.stdout).toContain('context "e2e"');
    expect(run.stdout + run.stderr).not.toContain(apiKey());
    const file = join(home, 'xdg', 'attache', 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(join(home, 'xdg', 'attache'))).mode & 0o777).toBe(0o700);
    const config = JSON.parse(await readFile(file, 'utf8'));
    expect(config).toMatchObject({ currentContext: 'e2e', contexts: { e2e: { url: cp.httpUrl, apiKey: apiKey(), externalId: tenant.externalId } } });

    const listed = await json(['context', 'list']);
    expect(listed.items).toEqual([{ name: 'e2e', current: true, url: cp.httpUrl, externalId: tenant.externalId, credential: 'apiKey', user: null }]);
    expect(JSON.stringify(listed)).not.toContain(apiKey());
    expect((await ok(['context', 'current'])).stdout).toMatch(/^e2e\s/);
  });

  it('tokens create -o json prints the API\'s token, with the group and tags it is bound to; a delegate connects with it', async () => {
    const token = await json(['tokens', 'create', 'cli-delegate', '--group', GROUP, '--tags', 'aws']);
    expect(token).toMatchObject({ name: 'cli-delegate', status: 'active', revokedAt: null, group: GROUP, tags: ['aws'] });
    expect(token.token).toMatch(/^atd_/);
    // Field for field the API's token view (as the API lists it), plus the token itself.
    const listed = (await tenant.api.get('/v1/delegate-tokens')).body.items.find((t: any) => t.id === token.id);
    const { token: _secret, ...view } = token;
    expect(view).toEqual(listed);
    delegate = await startDelegate(tenant, {
      url: cp.grpcUrl,
      token: token.token,
      name: GROUP,
      tags: ['aws'],
      env: {
        AWS_ENDPOINT_URL: moto.endpoint,
        AWS_EC2_METADATA_DISABLED: 'true',
        // Named AWS_*, which the delegate's default reference policy allows.
        AWS_VALID_ACCESS_KEY_ID: ids.validUser.accessKeyId,
        AWS_VALID_SECRET_ACCESS_KEY: ids.validUser.secretAccessKey,
        AWS_WRONG_SECRET_ACCESS_KEY: `${ids.validUser.secretAccessKey.slice(0, -4)}XXXX`,
        ATTACHE_STATE_DIR: join(home, 'delegate-state'),
      },
    });
    const tokens = await json(['tokens', 'list']);
    expect(tokens.items.map((t: any) => t.id)).toContain(token.id);
    const delegates = await json(['delegates', 'list']);
    expect(delegates.items).toEqual(expect.arrayContaining([expect.objectContaining({ name: GROUP, status: 'connected', tags: expect.arrayContaining(['aws']) })]));
    expect((await ok(['gateways', 'list'])).stdout).toMatch(new RegExp(`^${GROUP}\\s+1/1`, 'm'));
  });

  it('accounts create from flags, then validate: exit 0, the AWS account ID, progress lines on stderr', async () => {
    const created = await json([
      'accounts', 'create', '--name', 'from-flags', '--auth-type', 'static', '--selectors', 'aws',
      '--access-key-id', 'env:AWS_VALID_ACCESS_KEY_ID', '--secret-access-key', 'env:AWS_VALID_SECRET_ACCESS_KEY',
    ]);
    expect(created).toMatchObject({ name: 'from-flags', partition: 'aws', auth: { type: 'static', accessKeyId: 'env:AWS_VALID_ACCESS_KEY_ID' }, delegateSelectors: ['aws'], status: 'unvalidated' });

    const run = await ok(['accounts', 'validate', 'from-flags']);
    expect(run.stdout).toMatch(/^valid\s+from-flags/m);
    expect(run.stdout).toContain(ids.accountId);
    expect(run.stdout).toContain(ids.validUser.arn);
    // Not a terminal: plain progress lines, no spinner frames or colour escapes anywhere.
    expect(run.stderr).toMatch(/^validating from-flags: (queued|assigned|running)/m);
    expect(run.stdout + run.stderr).not.toMatch(/\x1b\[|⠋/);
    expect((await json(['accounts', 'get', created.id])).status).toBe('valid');
  });

  it('accounts create -f file.yaml, validate with a wrong secret: exit 1 with INVALID_CREDENTIALS', async () => {
    const file = join(home, 'wrong.yaml');
    await writeFile(
      file,
      YAML.stringify({ name: 'from-yaml', partition: 'aws', delegateSelectors: ['aws'], auth: { type: 'static', accessKeyId: 'env:AWS_VALID_ACCESS_KEY_ID', secretAccessKey: 'env:AWS_WRONG_SECRET_ACCESS_KEY' } }),
    );
    expect((await ok(['accounts', 'create', '-f', file])).stdout).toMatch(/^created AWS account from-yaml \(acc_/);

    const run = await cli(['accounts', 'validate', 'from-yaml']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: INVALID_CREDENTIALS: AWS was not able to validate the provided access credentials/m);
    expect(run.stdout).toMatch(/^invalid\s+from-yaml/m);

    // By name, as YAML for scripts.
    const account = YAML.parse((await ok(['accounts', 'get', 'from-yaml', '-o', 'yaml'])).stdout);
    expect(account).toMatchObject({ name: 'from-yaml', status: 'invalid', lastError: { code: 'INVALID_CREDENTIALS' } });

    // tasks list / get / watch see the same validation.
    const tasks = await json(['tasks', 'list', '--type', 'aws.validate']);
    const task = tasks.items.find((t: any) => t.id === account.lastTaskId);
    expect(task).toMatchObject({ state: 'failed', accountId: account.id, error: { code: 'INVALID_CREDENTIALS' } });
    expect(await json(['tasks', 'get', task.id])).toMatchObject({ id: task.id, state: 'failed' });
    expect((await ok(['tasks', 'get', task.id])).stdout).toMatch(/^error:\s+INVALID_CREDENTIALS/m);
    const watched = await cli(['tasks', 'watch', task.id]);
    expect(watched.code).toBe(1);
    expect(watched.stderr).toMatch(/^error: INVALID_CREDENTIALS: /m);
  });

  it('seal: a secret from stdin sealed to the group\'s key validates through the delegate', async () => {
    const accountId = (await ok(['new-account-id'])).stdout.trim();
    expect(accountId).toMatch(/^acc_[0-9a-hjkmnp-tv-z]{26}$/);
    const sealed = (await ok(['seal', '--group', GROUP, '--account', accountId, '--field', 'secretAccessKey'], `${ids.validUser.secretAccessKey}\n`)).stdout.trim();
    expect(sealed).toMatch(/^sealed:v1:[0-9a-f]{16}:/);
    expect(sealed).not.toContain(ids.validUser.secretAccessKey);

    await ok(['accounts', 'create', '--id', accountId, '--name', 'sealed', '--selectors', 'aws', '--access-key-id', 'env:AWS_VALID_ACCESS_KEY_ID', '--secret-access-key', sealed]);
    const run = await ok(['accounts', 'validate', accountId, '-o', 'json']);
    const answer = JSON.parse(run.stdout);
    expect(answer.task.state).toBe('succeeded');
    expect(answer.account).toMatchObject({ id: accountId, status: 'valid', awsAccountId: ids.accountId });

    // The same value in another account does not open: the account id is bound, checked on the delegate.
    const moved = await ok(['accounts', 'create', '--name', 'sealed-moved', '--id', (await ok(['new-account-id'])).stdout.trim(), '--selectors', 'aws', '--access-key-id', 'env:AWS_VALID_ACCESS_KEY_ID', '--secret-access-key', sealed, '-o', 'json']);
    const failed = await cli(['accounts', 'validate', JSON.parse(moved.stdout).id]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^error: SEALED_VALUE_INVALID: /m);
  });

  it('accounts policies: the delegate\'s MISSING_PERMISSION for iam:ListPolicies is the error; policies set records ARNs', async () => {
    const listed = await cli(['accounts', 'policies', 'sealed']);
    expect(listed.code).toBe(1);
    expect(listed.stderr).toMatch(/^error: MISSING_PERMISSION: .*iam:ListPolicies/m);
    const arn = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
    expect((await ok(['accounts', 'policies', 'set', 'sealed', arn])).stdout).toMatch(/^sealed \(acc_\w+\): 1 policy chosen/m);
    expect((await json(['accounts', 'get', 'sealed'])).policyArns).toEqual([arn]);
    const refused = await cli(['accounts', 'policies', 'set', 'sealed', 'arn:aws-us-gov:iam::aws:policy/ReadOnlyAccess']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: VALIDATION_FAILED: .*partition/m);
  });

  it('tasks watch shows the step and the delegate until the task ends; tasks cancel ends it', async () => {
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'hold', delayMs: 60_000 }, selectors: ['aws'] });
    expect(created.status, created.text).toBe(201);
    const id = created.body.id as string;
    const watching = startCli(['tasks', 'watch', id], { env });
    // The step and the delegate, as the watch saw them while the task ran.
    await watching.stderrMatching(new RegExp(`^task ${id} \\(echo\\): running on delegate ${GROUP} \\(dlg_[^)]+\\)$`, 'm'));
    const cancelled = await json(['tasks', 'cancel', id]);
    expect(cancelled).toMatchObject({ id, state: 'cancelled', error: { code: 'CANCELLED' } });
    const watched = await watching.done;
    expect(watched.code).toBe(1);
    // Off a terminal, a line per change only: the task ran once, so one running line.
    expect(watched.stderr.match(/: running on /g)).toHaveLength(1);
    expect(watched.stderr).toMatch(/^error: CANCELLED: The task was cancelled/m);
    const again = await cli(['tasks', 'cancel', id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^error: CONFLICT: /m);
  });

  it('on a terminal, watch draws a spinner in colour; --no-color and NO_COLOR keep the spinner without colour', async () => {
    // `script` (util-linux, essential on Debian) gives the CLI a pseudo-terminal, as a person's shell would.
    const inTerminal = async (extraArgs: string[], extraEnv: Record<string, string> = {}) => {
      const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'tty', delayMs: 2_500 }, selectors: ['aws'] });
      expect(created.status, created.text).toBe(201);
      const command = [process.execPath, join(REPO_ROOT, 'cli/dist/main.js'), ...extraArgs, 'tasks', 'watch', created.body.id].join(' ');
      const { stdout } = await execFileAsync('script', ['-qec', command, '/dev/null'], { env: { PATH: process.env['PATH'] ?? '', ...env, ...extraEnv } });
      return stdout;
    };
    const colored = await inTerminal([]);
    expect(colored).toContain('\r\x1b[2K');
    expect(colored).toMatch(/\x1b\[36m[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]\x1b\[39m task tsk_\w+ \(echo\): (queued|assigned|running)/);
    expect(colored).toMatch(/state:\x1b\[22m\s+succeeded/);
    for (const plain of [await inTerminal(['--no-color']), await inTerminal([], { NO_COLOR: '1' })]) {
      expect(plain).toMatch(/\r\x1b\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] task tsk_\w+ \(echo\): (queued|assigned|running)/);
      expect(plain).not.toMatch(/\x1b\[(36|1|2|22|39)m/);
      expect(plain).toMatch(/state:\s+succeeded/);
    }
  });

  it('role-setup prints the trust and permission policies; -o json is the API\'s answer', async () => {
    const setup = await json(['role-setup', '--selectors', 'aws']);
    expect(setup.externalId).toBe(tenant.externalId);
    expect(setup.trustPolicy.Statement[0].Condition.StringEquals['sts:ExternalId']).toBe(tenant.externalId);
    expect(setup.permissionPolicy.Statement[0].Action).toEqual(expect.arrayContaining(['sts:GetCallerIdentity', 'ec2:DescribeRegions']));
    const people = (await ok(['role-setup', '--selectors', 'aws'])).stdout;
    expect(people).toContain('Trust policy');
    expect(people).toContain('"sts:ExternalId"');
    expect(people).toContain('Permission policy');
  });

  it('role-setup --cloudformation writes the template the API serves, with the tenant\'s external ID', async () => {
    const file = join(home, 'role.yaml');
    const run = await cli(['role-setup', '--cloudformation', '-o', file]);
    expect(run.code, run.stderr).toBe(0);
    const template = YAML.parse(await readFile(file, 'utf8'));
    expect(template).toHaveProperty('Resources');
    expect(template.Parameters.ExternalId.Default).toMatch(/\S/);
  });

  it('audit reads the trail the earlier cases left: creations, validations with their delegate, the policy listing\'s outcome', async () => {
    const created = await json(['audit', '--action', 'account.create', '--since', '2026-01-01T00:00:00Z']);
    const names = created.items.map((e: any) => e.target.name);
    expect(names).toEqual(expect.arrayContaining(['from-flags', 'from-yaml', 'sealed', 'sealed-moved']));
    // Newest first; every one by the tenant's API key, from this machine.
    expect(names.indexOf('sealed-moved')).toBeLessThan(names.indexOf('from-flags'));
    for (const e of created.items) expect(e).toMatchObject({ action: 'account.create', actor: { type: 'apiKey' }, role: 'admin', clientAddress: '127.0.0.1', outcome: 'success' });
    const sealed = created.items.find((e: any) => e.target.name === 'sealed');
    expect(sealed.diff).toMatchObject({ 'auth.secretAccessKey': { changed: true, kind: 'sealed' }, 'auth.accessKeyId': { changed: true, kind: 'reference' } });

    const validations = await json(['audit', '--action', 'account.validate']);
    const outcome = (name: string) => validations.items.find((e: any) => e.target.name === name);
    expect(outcome('from-flags')).toMatchObject({ outcome: 'success', details: { delegate: { name: GROUP } } });
    expect(outcome('from-yaml')).toMatchObject({ outcome: 'INVALID_CREDENTIALS', details: { delegate: { name: GROUP } } });
    expect(outcome('sealed-moved')).toMatchObject({ outcome: 'SEALED_VALUE_INVALID' });
    expect((await json(['audit', '--action', 'account.list_policies'])).items).toMatchObject([{ target: { name: 'sealed' }, outcome: 'MISSING_PERMISSION' }]);

    // The table: one line per entry, the actor and target named; the refused choice (wrong partition) is there too, newest first.
    const table = (await ok(['audit', '--action', 'account.choose_policies'])).stdout.split('\n');
    expect(table[0]).toMatch(/^AT\s+ACTOR\s+ROLE\s+FROM\s+ACTION\s+TARGET\s+OUTCOME$/);
    expect(table[1]).toMatch(/\skey:initial admin key\s+admin\s+127\.0\.0\.1\s+account\.choose_policies\s+account\/acc_\w+\s+VALIDATION_FAILED$/);
    expect(table[2]).toMatch(/\skey:initial admin key\s+admin\s+127\.0\.0\.1\s+account\.choose_policies\s+account\/sealed\s+success$/);
    expect(table.slice(3)).toEqual(['']);

    // --actor and --until filter on the server; nothing secret is printed.
    expect((await json(['audit', '--actor', 'operator'])).items.map((e: any) => e.action)).toEqual(['tenant.create']);
    expect((await json(['audit', '--until', '2026-01-01T00:00:00Z'])).items).toEqual([]);
    const newest = await json(['audit', '--limit', '1']);
    expect(newest.items).toHaveLength(1);
    expect(newest.nextCursor).toEqual(expect.any(String));
    const everything = (await ok(['audit', '-o', 'json'])).stdout;
    for (const secret of [apiKey(), ids.validUser.secretAccessKey, 'AWS_VALID_SECRET_ACCESS_KEY', 'sealed:v1:']) expect(everything).not.toContain(secret);
  });

  it('delete by name; then get is NOT_FOUND with exit 4; unknown names are exit 4 too', async () => {
    expect((await ok(['accounts', 'delete', 'from-flags'])).stdout).toMatch(/^deleted AWS account from-flags \(acc_/);
    const gone = await cli(['accounts', 'get', 'from-flags']);
    expect(gone.code).toBe(4);
    expect(gone.stderr).toMatch(/^error: NOT_FOUND: No AWS account named or with id "from-flags"/m);
    const byId = await cli(['accounts', 'get', 'acc_0000000000000000000000000a']);
    expect(byId.code).toBe(4);
    expect(byId.stderr).toMatch(/^error: NOT_FOUND: /m);
  });

  it('usage errors exit 2 and name what is missing', async () => {
    const missing = await cli(['accounts', 'create', '--name', 'x', '--access-key-id', 'env:AWS_VALID_ACCESS_KEY_ID']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: USAGE: auth type static needs --secret-access-key/m);
    const unknown = await cli(['acounts', 'list']);
    expect(unknown.code).toBe(2);
  });

  it('ATTACHE_API_URL and ATTACHE_API_KEY override the context; a bad key there is exit 3', async () => {
    const overridden = await runCli(['delegates', 'list', '-o', 'json'], { env: { HOME: home, ATTACHE_CONFIG: join(home, 'none.json'), ATTACHE_API_URL: cp.httpUrl, ATTACHE_API_KEY: apiKey() } });
    expect(overridden.code, overridden.stderr).toBe(0);
    expect(JSON.parse(overridden.stdout).items.map((d: any) => d.name)).toContain(GROUP);
    const refused = await runCli(['delegates', 'list'], { env: { ...env, ATTACHE_API_KEY: 'atk_wrong' } });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/^error: UNAUTHENTICATED: /m);
  });

  it('tokens revoke by name revokes that token', async () => {
    const spare = await json(['tokens', 'create', 'spare']);
    const revoked = await json(['tokens', 'revoke', 'spare']);
    expect(revoked).toMatchObject({ id: spare.id, status: 'revoked' });
  });

  it('completion scripts are generated from the command tree and are valid shell', async () => {
    const bash = (await ok(['completion', 'bash'])).stdout;
    for (const word of ['accounts', 'validate', 'role-setup', 'tokens', 'revoke', 'seal', '--auth-type', '--secret-access-key', 'completion']) expect(bash).toContain(word);
    execFileSync('bash', ['-n'], { input: bash });
    // Completing "attache accounts va" offers "validate".
    const offered = execFileSync('bash', ['-c', `${bash}\nCOMP_WORDS=(attache accounts va); COMP_CWORD=2; _attache_completion; echo "\${COMPREPLY[@]}"`]).toString().trim();
    expect(offered).toBe('validate');
    const zsh = (await ok(['completion', 'zsh'])).stdout;
    expect(zsh).toMatch(/^#compdef attache/);
    for (const word of ['accounts', 'validate:', 'policies', 'watch:']) expect(zsh).toContain(word);
  });
});
