#!/usr/bin/env node
// First-run setup for a fresh scale-out cluster: creates a tenant and a delegate token through the
// control plane's API with the operator key, and writes them to a state file (mode 0600). Later runs
// reuse the file, so restarting the cluster neither creates a second tenant nor rotates the token.
//
//   ATTACHE_API=http://cp-a:8080 ATTACHE_OPERATOR_KEY=... node deploy/bootstrap.mjs /shared/demo.env
//
// The state file is shell syntax (KEY='value' lines): `. /shared/demo.env` gives a delegate its
// ATTACHE_TOKEN and a person the tenant's API key. Waits up to 120 s for the API to be ready, since
// in compose it starts alongside the replicas.
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const api = process.env.ATTACHE_API ?? 'http://127.0.0.1:8080';
const operatorKey = process.env.ATTACHE_OPERATOR_KEY;
const file = process.argv[2] ?? 'attache-demo.env';
const tenantName = process.env.ATTACHE_TENANT_NAME ?? 'demo';
if (!operatorKey) {
  process.stderr.write('bootstrap: ATTACHE_OPERATOR_KEY is required\n');
  process.exit(2);
}

try {
  await readFile(file, 'utf8');
  process.stdout.write(`bootstrap: ${file} exists; keeping its tenant and token\n`);
  process.exit(0);
} catch {
  // first run
}

for (let waited = 0; ; waited += 1) {
  try {
    if ((await fetch(`${api}/readyz`)).status === 200) break;
  } catch {
    // not listening yet
  }
  if (waited >= 120) {
    process.stderr.write(`bootstrap: ${api}/readyz not ready after 120 s\n`);
    process.exit(1);
  }
  await sleep(1_000);
}

async function call(path, key, body) {
  const res = await fetch(`${api}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = await res.json();
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const tenant = await call('/v1/tenants', operatorKey, { name: tenantName });
const token = await call('/v1/delegate-tokens', tenant.apiKey, { name: `${tenantName}-delegate` });
await writeFile(
  file,
  `ATTACHE_TENANT_ID='${tenant.id}'\nATTACHE_API_KEY='${tenant.apiKey}'\nATTACHE_TOKEN='${token.token}'\n`,
  { mode: 0o600 },
);
process.stdout.write(`bootstrap: tenant ${tenant.id} (${tenantName}) and a delegate token written to ${file}\n`);
