import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { create } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { ControlFrameSchema, delegateServiceDefinition, type ControlFrame, type DelegateFrame } from '@attache/proto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';

/** The built bin, exactly as `attache-delegate` runs in a container. */
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const TOKEN = 'dlg_tok_cli_secret_987654';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: Record<string, string>, onStart?: (child: ReturnType<typeof spawn>) => void): Promise<Run> {
  // Only PATH from the parent: an ATTACHE_* variable on the developer's machine must not leak in.
  const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  onStart?.(child);
  return once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
}

describe('attache-delegate CLI (built)', () => {
  let server: grpc.Server | undefined;

  beforeAll(() => {
    execFileSync('npm', ['run', 'build', '-w', '@attache/delegate'], { cwd: `${packageDir}/..`, stdio: 'pipe' });
  }, 120_000);

  afterEach(() => {
    server?.forceShutdown();
    server = undefined;
  });

  /** A stand-in control plane that welcomes every connection and then runs `script`. */
  async function stubControlPlane(script: (call: grpc.ServerDuplexStream<DelegateFrame, ControlFrame>) => void): Promise<number> {
    server = new grpc.Server();
    server.addService(delegateServiceDefinition, {
      connect: (call: grpc.ServerDuplexStream<DelegateFrame, ControlFrame>) => {
        call.once('data', () => {
          call.write(create(ControlFrameSchema, { frame: { case: 'welcome', value: { delegateId: 'd', tenantId: 't', heartbeatIntervalMs: 1_000 } } }));
          script(call);
        });
        call.on('end', () => call.end());
      },
    });
    return new Promise((resolve, reject) =>
      server!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
  }

  it('prints help naming every flag and its variable', async () => {
    const { code, stdout } = await runCli(['--help'], {});
    expect(code).toBe(0);
    expect(stdout).toContain('Usage: attache-delegate');
    for (const text of ['--url', '--token', '--name', '--tags', '--max-concurrency', '--ca-file', '--health-addr', '--drain-grace-seconds', '--log-level', 'ATTACHE_TOKEN', 'check-config']) {
      expect(stdout).toContain(text);
    }
  });

  it('exits 2 with one line per problem on bad config, without printing the token', async () => {
    const { code, stdout, stderr } = await runCli(['--max-concurrency', 'many'], {
      ATTACHE_URL: 'http://cp:80',
      ATTACHE_TOKEN: TOKEN,
      ATTACHE_DELEGATE_NAME: 'Bad Name',
    });
    expect(code).toBe(2);
    const lines = stderr.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.some((l) => l.startsWith('attache-delegate: ATTACHE_URL: unsupported scheme'))).toBe(true);
    expect(lines.some((l) => l.startsWith('attache-delegate: ATTACHE_DELEGATE_NAME: must match'))).toBe(true);
    expect(lines.some((l) => l.startsWith('attache-delegate: --max-concurrency: must be a whole number'))).toBe(true);
    expect(stderr + stdout).not.toContain(TOKEN);
  });

  it('exits 2 on an unknown flag', async () => {
    const { code, stderr } = await runCli(['--no-such-flag'], {});
    expect(code).toBe(2);
    expect(stderr).toContain('--no-such-flag');
  });

  it('exits 3 when the control plane revokes the token', async () => {
    const port = await stubControlPlane((call) =>
      call.write(create(ControlFrameSchema, { frame: { case: 'goodbye', value: { code: 'TOKEN_REVOKED', reason: 'revoked' } } })),
    );
    const { code, stdout, stderr } = await runCli([], {
      ATTACHE_URL: `grpc://127.0.0.1:${port}`,
      ATTACHE_TOKEN: TOKEN,
      ATTACHE_DELEGATE_NAME: 'cli-test',
    });
    expect(code).toBe(3);
    expect(stderr).toContain('TOKEN_REVOKED');
    expect(stdout).toContain('"msg":"registered"');
    expect(stdout + stderr).not.toContain(TOKEN);
  });

  it('exits 2 with the sentence when the control plane refuses its name or tags for the token', async () => {
    const sentence = 'Delegate token tok_1 ("gw") is bound to delegate group "vpc-east" and cannot register as "cli-test".';
    const port = await stubControlPlane((call) =>
      call.write(create(ControlFrameSchema, { frame: { case: 'goodbye', value: { code: 'GROUP_NOT_ALLOWED', reason: sentence } } })),
    );
    const { code, stdout, stderr } = await runCli([], {
      ATTACHE_URL: `grpc://127.0.0.1:${port}`,
      ATTACHE_TOKEN: TOKEN,
      ATTACHE_DELEGATE_NAME: 'cli-test',
    });
    expect(code).toBe(2);
    expect(stderr).toContain(`(GROUP_NOT_ALLOWED): ${sentence}`);
    expect(stdout).toContain('control plane refused this delegate; not reconnecting');
    expect(stdout).toContain(sentence.replaceAll('"', '\\"'));
    expect(stdout).not.toContain('disconnected; reconnecting');
  });

  it('drains on SIGTERM and exits 0', async () => {
    const draining: string[] = [];
    const port = await stubControlPlane((call) => {
      call.on('data', (frame: DelegateFrame) => {
        if (frame.frame.case === 'draining') draining.push(frame.frame.value.reason);
      });
    });
    const { code, stdout } = await runCli([], {
      ATTACHE_URL: `grpc://127.0.0.1:${port}`,
      ATTACHE_TOKEN: TOKEN,
      ATTACHE_DELEGATE_NAME: 'cli-test',
    }, (child) => {
      child.stdout!.on('data', (d: Buffer) => {
        if (d.toString().includes('"msg":"registered"')) child.kill('SIGTERM');
      });
    });
    expect(code).toBe(0);
    expect(draining).toEqual(['received SIGTERM']);
    expect(stdout).toContain('"reason":"drained"');
  });

  it('prints the effective policy with only the policy settings, and exits 2 naming a bad one', async () => {
    const { code, stdout } = await runCli(['policy'], { ATTACHE_ALLOW_REFS: 'env:PROD_*,file:/srv/keys/*', ATTACHE_ALLOW_ENDPOINTS: 'http://127.0.0.1:5000', ATTACHE_STATE_DIR: '/var/lib/attache' });
    expect(code).toBe(0);
    const policy = JSON.parse(stdout) as { allowRefs: string[]; allowEndpoints: string[]; reserved: string[]; digest: string };
    expect(policy.allowRefs).toEqual(['env:PROD_*', 'file:/srv/keys/*']);
    expect(policy.allowEndpoints).toEqual(['http://127.0.0.1:5000']);
    expect(policy.reserved).toEqual(expect.arrayContaining([expect.stringContaining('env:ATTACHE_*'), expect.stringContaining('file:/var/lib/attache/**')]));
    const canonical = JSON.stringify({ allowEndpoints: policy.allowEndpoints, allowRefs: policy.allowRefs });
    expect(policy.digest).toBe(`sha256:${createHash('sha256').update(canonical).digest('hex')}`);

    const bad = await runCli(['policy'], { ATTACHE_ALLOW_REFS: 'AWS_*' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('attache-delegate: ATTACHE_ALLOW_REFS: pattern "AWS_*" must start with env: or file:/');
  });

  it('logs its policy at start and reports it in Hello', async () => {
    let hello: DelegateFrame | undefined;
    server = new grpc.Server();
    server.addService(delegateServiceDefinition, {
      connect: (call: grpc.ServerDuplexStream<DelegateFrame, ControlFrame>) => {
        call.once('data', (frame: DelegateFrame) => {
          hello = frame;
          call.write(create(ControlFrameSchema, { frame: { case: 'goodbye', value: { code: 'TOKEN_REVOKED', reason: 'seen enough' } } }));
        });
        call.on('end', () => call.end());
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server!.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const env = { ATTACHE_URL: `grpc://127.0.0.1:${port}`, ATTACHE_TOKEN: TOKEN, ATTACHE_DELEGATE_NAME: 'cli-policy', ATTACHE_ALLOW_ENDPOINTS: 'https://*.internal.example:8443' };
    const { stdout } = await runCli([], env);
    const printed = JSON.parse((await runCli(['policy'], env)).stdout) as { digest: string };
    expect(hello?.frame.case).toBe('hello');
    const sent = hello?.frame.case === 'hello' ? hello.frame.value.policy : undefined;
    expect(sent).toMatchObject({ allowRefs: ['env:AWS_*', 'file:/var/run/secrets/attache/*'], allowEndpoints: ['https://*.internal.example:8443'], digest: printed.digest });
    const logged = stdout.split('\n').filter((l) => l.includes('"msg":"delegate policy"')).map((l) => JSON.parse(l) as { policy: { digest: string } });
    expect(logged).toHaveLength(1);
    expect(logged[0]!.policy.digest).toBe(printed.digest);
  });
});
