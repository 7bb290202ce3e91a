/// <reference lib="dom" />
import { mkdtemp, mkdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page, type Request } from 'playwright-core';
import { REPO_ROOT } from '../support/cluster.js';

/**
 * Debian's Chromium driven by playwright-core (which cannot download a browser here), headless,
 * from a fresh profile, with the flags that keep it off the network: the tests reach only the
 * loopback control plane.
 */
const CHROMIUM = process.env['ATTACHE_CHROMIUM'] ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const SCREENSHOT_DIR = join(REPO_ROOT, 'docs/console');

export interface ConsoleBrowser {
  context: BrowserContext;
  page: Page;
  /** Every request the page made, in order, with its body: what left the browser. */
  requests: Request[];
  /** Console messages that report something the Content-Security-Policy refused. */
  cspViolations: string[];
  close(): Promise<void>;
}

export async function openConsole(baseUrl: string, viewport = { width: 1280, height: 800 }): Promise<ConsoleBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'attache-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport, baseURL: baseUrl });
  const page = context.pages()[0] ?? (await context.newPage());
  const requests: Request[] = [];
  context.on('request', (r) => requests.push(r));
  const cspViolations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  return {
    context,
    page,
    requests,
    cspViolations,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

const axeSource = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: number;
}

/**
 * axe-core in the page, evaluated over the automation protocol (the console's CSP rightly refuses
 * an inline script tag, and protocol evaluation is not subject to it); the serious and critical
 * violations.
 */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(await readFile(axeSource, 'utf8'));
  const results = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: unknown[] }> }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
  });
  return results.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
}

export async function signIn(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
