import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './cluster.js';

const ATTACHE_CLI = join(REPO_ROOT, 'cli/dist/main.js');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliProcess {
  readonly done: Promise<CliRun>;
  /** Resolves with the match once standard error so far matches `pattern` (the CLI's progress lines go there). */
  stderrMatching(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
}

/**
 * Starts the built `attache` CLI as a process, as a user's shell would: its own environment
 * (nothing of the test runner's but PATH), standard input from `input`, output captured. Standard
 * output is a pipe, so the CLI must behave as it does in scripts (no colour, no spinner).
 */
export function startCli(args: string[], options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): CliProcess {
  const child = spawn(process.execPath, [ATTACHE_CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...(options.env ?? {}) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let ended = false;
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      ended = true;
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  child.stdin.end(options.input ?? '');
  return {
    done,
    async stderrMatching(pattern, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(stderr);
        if (match) return match;
        if (ended || Date.now() > deadline) throw new Error(`attache ${args.join(' ')}: standard error never matched ${pattern}:\n${stderr}`);
        await sleep(50);
      }
    },
  };
}

export const runCli = (args: string[], options: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<CliRun> => startCli(args, options).done;
