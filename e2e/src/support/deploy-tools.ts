import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from './cluster.js';

/**
 * The real tools the deploy artefacts are checked with, at the versions scripts/test-tools.env pins
 * and scripts/install-test-deps.sh installs (both read that file; the directory rule is the
 * script's: ATTACHE_TOOLS_DIR, else ~/.cache/attache-tools).
 */
const PINS = Object.fromEntries(
  readFileSync(join(REPO_ROOT, 'scripts/test-tools.env'), 'utf8')
    .split('\n')
    .map((l) => /^([A-Z_]+)=(\S+)$/.exec(l.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1], m[2]]),
) as Record<string, string>;

export const HELM_VERSION = PINS['HELM_VERSION']!;
export const CFN_LINT_VERSION = PINS['CFN_LINT_VERSION']!;
const TOOLS_DIR = process.env['ATTACHE_TOOLS_DIR'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'attache-tools');
export const HELM = join(TOOLS_DIR, 'helm', HELM_VERSION, 'helm');
export const CFN_LINT = join(TOOLS_DIR, 'cfn-lint', CFN_LINT_VERSION, 'bin', 'cfn-lint');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool to the end; a missing tool is an error that says how to install it, never a skip. */
export async function runTool(bin: string, args: string[], options: { cwd?: string; input?: string } = {}): Promise<RunResult> {
  try {
    await access(bin);
  } catch {
    throw new Error(`${bin} is missing: run "bash scripts/install-test-deps.sh" (it installs the pinned helm and cfn-lint).`);
  }
  return new Promise((resolve, reject) => {
    const child = execFile(bin, args, { cwd: options.cwd ?? REPO_ROOT, maxBuffer: 32 * 1024 * 1024, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') return reject(error);
      resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  [key: string]: unknown;
}

/** `helm template` of a chart under deploy/helm with values files (relative to the chart) and --set-json pairs. */
export async function helmTemplate(chart: string, valuesFiles: string[], setJson: Record<string, unknown> = {}): Promise<RunResult & { objects: K8sObject[] }> {
  const dir = join(REPO_ROOT, 'deploy/helm', chart);
  const args = ['template', 'rel', dir, '--namespace', 'attache'];
  for (const f of valuesFiles) args.push('-f', join(dir, f));
  for (const [k, v] of Object.entries(setJson)) args.push('--set-json', `${k}=${JSON.stringify(v)}`);
  const result = await runTool(HELM, args);
  const objects = result.code === 0 ? parseAllDocuments(result.stdout).map((d) => d.toJS() as K8sObject | null).filter((o): o is K8sObject => o !== null) : [];
  return { ...result, objects };
}

export function findObject(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found) throw new Error(`no ${kind}${name ? ` ${name}` : ''} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found;
}
