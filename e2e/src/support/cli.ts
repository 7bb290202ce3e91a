import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './cluster.js';

const ATTACHE_CLI = join(REPO_ROOT, 'cli/dist/main.js');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs the built `attache` CLI as a process, as a user's shell would: its own environment (nothing
 * of the test runner's but PATH), standard input from `input`, output captured. Standard output is
 * a pipe, so the CLI must behave as it does in scripts (no colour, no spinner).
 */
export function runCli(args: string[], options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ATTACHE_CLI, ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...(options.env ?? {}) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}
