#!/usr/bin/env node
// Prints the control plane's OpenAPI document from the build (the same one GET /v1/openapi.json
// serves), for client generators; with --lint, runs @redocly/cli lint on it instead.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const { buildOpenApiDocument } = await import(join(root, 'control-plane/dist/api/openapi/document.js'));
const { apiOperations } = await import(join(root, 'control-plane/dist/api/openapi/operations.js'));
const text = `${JSON.stringify(buildOpenApiDocument(apiOperations), null, 2)}\n`;

if (!process.argv.includes('--lint')) {
  process.stdout.write(text);
} else {
  const dir = mkdtempSync(join(tmpdir(), 'attache-openapi-'));
  try {
    const file = join(dir, 'openapi.json');
    writeFileSync(file, text);
    const lint = spawnSync(join(root, 'node_modules/.bin/redocly'), ['lint', file], { stdio: 'inherit' });
    process.exitCode = lint.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
