import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { newAccountId, sealingKeyFrom, sealValue, secretFromInput, type GroupPublicKeyAnswer, type SealingKey } from '@attache/proto/sealed-value';
import { rawPublicKey, SEALING_ALGORITHM, writeNewKeyFile } from './group-key.js';

/**
 * `keygen` and `seal`: the two key commands an operator or a tenant runs by hand. They never take a
 * secret on the command line (shell history, `ps`): `seal` reads it from standard input.
 */
export function registerKeyCommands(program: Command, fail: (message: string) => void): void {
  program
    .command('keygen')
    .description('create a delegate group key (X25519) for sealed values; prints its key id')
    .option('--out <file>', 'private key file to create, mode 0600 (never overwritten)', 'attache-group-key.pem')
    .action(async (opts: { out: string }) => {
      try {
        const key = await writeNewKeyFile(opts.out);
        const publicKeyFile = `${opts.out}.pub`;
        const spki = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(key.publicKey).toString('base64url') }, format: 'jwk' });
        // The public half is not secret; a file of it lets clients seal offline (seal --public-key-file).
        await writeFile(publicKeyFile, spki.export({ format: 'pem', type: 'spki' }).toString(), { mode: 0o644 });
        process.stdout.write(
          `${JSON.stringify({ keyId: key.keyId, algorithm: key.algorithm, keyFile: opts.out, publicKeyFile, publicKey: Buffer.from(key.publicKey).toString('base64url') }, null, 2)}\n`,
        );
      } catch (err) {
        fail((err as Error).message);
      }
    });

  program
    .command('new-account-id')
    .description('print a fresh AWS account id to create an account with, so values can be sealed for it first')
    .action(() => {
      process.stdout.write(`${newAccountId()}\n`);
    });

  program
    .command('seal')
    .description(
      'seal a secret read from standard input to a delegate group key; prints the sealed value to put in an account field. ' +
        'The value only opens on that group, for that tenant, account id and field.',
    )
    .option('--public-key-file <file>', 'the group public key: keygen\'s .pub file, the key file itself, or a saved GET .../public-key answer')
    .option('--api-url <url>', 'control-plane HTTP API (instead of --public-key-file); the API key comes from ATTACHE_API_KEY')
    .option('--group <name>', 'delegate group whose key to fetch from --api-url')
    .option('--tenant <id>', 'tenant id (taken from the API answer with --api-url)')
    .requiredOption('--account <id>', 'account id the value is for (attache-delegate new-account-id; create the account with that "id")')
    .requiredOption('--field <name>', 'account field the value is for: accessKeyId, secretAccessKey, sessionToken or userKey')
    .action(async (opts: SealOptions) => {
      try {
        const key = await groupPublicKey(opts);
        const secret = secretFromInput(await readStdin());
        const sealed = await sealValue(key.publicKey, key.keyId, secret, { tenantId: key.tenantId, accountId: opts.account, field: opts.field });
        process.stdout.write(`${sealed}\n`);
      } catch (err) {
        fail((err as Error).message);
      }
    });
}

interface SealOptions {
  publicKeyFile?: string;
  apiUrl?: string;
  group?: string;
  tenant?: string;
  account: string;
  field: string;
}

async function groupPublicKey(opts: SealOptions): Promise<SealingKey> {
  if ((opts.publicKeyFile === undefined) === (opts.apiUrl === undefined)) throw new Error('give exactly one of --public-key-file and --api-url');
  let answer: GroupPublicKeyAnswer;
  if (opts.apiUrl !== undefined) {
    if (opts.group === undefined) throw new Error('--api-url needs --group');
    const apiKey = process.env.ATTACHE_API_KEY;
    if (!apiKey) throw new Error('--api-url needs the tenant API key in ATTACHE_API_KEY');
    const url = new URL(`/v1/delegate-groups/${encodeURIComponent(opts.group)}/public-key`, opts.apiUrl);
    const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } });
    const body = (await res.json().catch(() => ({}))) as GroupPublicKeyAnswer & { error?: { message?: string } };
    if (!res.ok) throw new Error(`GET ${url.pathname}: ${res.status} ${body.error?.message ?? ''}`.trim());
    answer = body;
  } else {
    const text = await readFile(opts.publicKeyFile!, 'utf8');
    answer = text.trimStart().startsWith('{') ? (JSON.parse(text) as GroupPublicKeyAnswer) : { current: pemPublicKey(text) };
  }
  return sealingKeyFrom(answer, opts.tenant ?? answer.tenantId);
}

function pemPublicKey(pem: string): { publicKey: string; algorithm: string } {
  const key = pem.includes('PRIVATE KEY') ? createPrivateKey(pem) : createPublicKey(pem);
  return { publicKey: Buffer.from(rawPublicKey(key)).toString('base64url'), algorithm: SEALING_ALGORITHM };
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('Type or paste the secret, then press Ctrl-D:\n');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
