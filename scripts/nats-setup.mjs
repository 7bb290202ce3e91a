#!/usr/bin/env node
// Creates a NATS operator, account and account signing key for Attaché (after `npm run build`):
// writes nats-server configuration to the file named by the first argument (default
// ./attache-nats.conf, mode 0600) and prints the control plane's ATTACHE_NATS_* settings.
// Keep the signing seed as secret as the operator key: it mints NATS users.
import { writeFile } from 'node:fs/promises';
import { createNatsOperatorSetup } from '../control-plane/dist/nats/account.js';

const file = process.argv[2] ?? 'attache-nats.conf';
const setup = await createNatsOperatorSetup();
await writeFile(file, setup.serverConfig, { mode: 0o600 });
process.stdout.write(
  `nats-server configuration written to ${file}: nats-server -c ${file} -js\n` +
    `ATTACHE_NATS_ACCOUNT=${setup.accountPublicKey}\n` +
    `ATTACHE_NATS_SIGNING_SEED=${setup.signingSeed}\n`,
);
