#!/usr/bin/env node
// `npm start`: the whole product on one machine. The control plane runs in this process on SQLite
// (ATTACHE_DATA_DIR, default ./.attache); a delegate tagged `local` runs as a child process and
// connects over gRPC like any other. On first start a tenant "local", its API key and a delegate
// token are created and kept in the data dir (mode 0600) so later starts reuse them.
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, ListenError, loadConfig, operatorKeyNotice, startControlPlane } from '../control-plane/dist/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));
let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
const cp = await startControlPlane(config).catch((err) => {
  if (!(err instanceof ListenError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});

async function call(method, path, key, body) {
  const res = await fetch(`${cp.httpUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

const stateFile = join(config.dataDir, 'local.json');
let local;
try {
  local = JSON.parse(await readFile(stateFile, 'utf8'));
} catch {
  const tenant = await call('POST', '/v1/tenants', cp.operatorKey, { name: `local-${Date.now()}` });
  const token = await call('POST', '/v1/delegate-tokens', tenant.apiKey, { name: 'local' });
  local = { tenantId: tenant.id, apiKey: tenant.apiKey, delegateToken: token.token };
  await writeFile(stateFile, JSON.stringify(local, null, 2), { mode: 0o600 });
}

const grpcHost = config.grpcHost === '0.0.0.0' || config.grpcHost === '::' ? '127.0.0.1' : config.grpcHost;
const delegate = spawn(process.execPath, [join(root, 'delegate/dist/cli.js')], {
  env: {
    ...process.env,
    ATTACHE_URL: `grpc://${grpcHost}:${cp.grpcAddress.port}`,
    ATTACHE_TOKEN: local.delegateToken,
    ATTACHE_DELEGATE_NAME: 'local',
    ATTACHE_TAGS: 'local',
    // The delegate's group key for sealed values is generated here on first start (mode 0600).
    ATTACHE_STATE_DIR: process.env.ATTACHE_STATE_DIR ?? join(config.dataDir, 'delegate'),
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});

process.stderr.write(`
Attaché is running: control plane ${cp.httpUrl} (SQLite in ${config.dataDir}), delegate "local" (tags: local) over gRPC.

  export ATTACHE_API=${cp.httpUrl}
  export ATTACHE_KEY=${local.apiKey}      # the local tenant's API key (also in ${stateFile})
  curl -s -H "authorization: Bearer $ATTACHE_KEY" $ATTACHE_API/v1/delegates
  curl -s -H "authorization: Bearer $ATTACHE_KEY" -H 'content-type: application/json' \\
       -d '{"type":"echo","payload":{"message":"hello"},"selectors":["local"]}' $ATTACHE_API/v1/tasks
  curl -s -H "authorization: Bearer $ATTACHE_KEY" "$ATTACHE_API/v1/tasks/<id>?waitSeconds=10"

The delegate's policy (what it may read and reach) comes from ATTACHE_ALLOW_REFS and ATTACHE_ALLOW_ENDPOINTS in this
environment (default: env:AWS_* and file:/var/run/secrets/attache/*, no endpoint overrides); print it with
  node delegate/dist/cli.js policy

${cp.operatorKeyGenerated && cp.operatorKeyFile ? operatorKeyNotice(cp.operatorKey, cp.operatorKeyFile, process.stderr.isTTY === true).trim() : `Operator key: ${cp.operatorKeyFile ? `in ${cp.operatorKeyFile}` : 'ATTACHE_OPERATOR_KEY'}.`} Stop with Ctrl-C.
`);

let stopping = false;
const stop = async () => {
  if (stopping) process.exit(1);
  stopping = true;
  delegate.kill('SIGTERM');
  await new Promise((r) => (delegate.exitCode !== null ? r() : delegate.once('exit', r)));
  await cp.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
delegate.on('exit', (code) => {
  if (!stopping) process.stderr.write(`local delegate exited with code ${code}\n`);
});
