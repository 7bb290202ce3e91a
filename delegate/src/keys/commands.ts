import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { sealValue } from '../secrets/sealed.js';
import { keyIdOf, rawPublicKey, SEALING_ALGORITHM, writeNewKeyFile } from './group-key.js';

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
      const bytes = randomBytes(26);
      process.stdout.write(`acc_${[...bytes].map((b) => ID_ALPHABET[b & 31]).join('')}\n`);
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
        const secret = (await readStdin()).replace(/(\r?\n)+$/, '');
        const sealed = await sealValue(key.publicKey, key.keyId, secret, { tenantId: key.tenantId, accountId: opts.account, field: opts.field });
        process.stdout.write(`${sealed}\n`);
      } catch (err) {
        fail((err as Error).message);
      }
    });
}

/** The control plane's id alphabet (Crockford base32, lower case): 26 characters carry 130 random bits. */
const ID_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

interface SealOptions {
  publicKeyFile?: string;
  apiUrl?: string;
  group?: string;
  tenant?: string;
  account: string;
  field: string;
}

interface PublicKeyAnswer {
  tenantId?: string;
  current?: { keyId?: string; algorithm?: string; publicKey?: string } | null;
}

async function groupPublicKey(opts: SealOptions): Promise<{ keyId: string; publicKey: Uint8Array; tenantId: string }> {
  if ((opts.publicKeyFile === undefined) === (opts.apiUrl === undefined)) throw new Error('give exactly one of --public-key-file and --api-url');
  let answer: PublicKeyAnswer;
  if (opts.apiUrl !== undefined) {
    if (opts.group === undefined) throw new Error('--api-url needs --group');
    const apiKey = process.env.ATTACHE_API_KEY;
    if (!apiKey) throw new Error('--api-url needs the tenant API key in ATTACHE_API_KEY');
    const url = new URL(`/v1/delegate-groups/${encodeURIComponent(opts.group)}/public-key`, opts.apiUrl);
    const res = await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } });
    const body = (await res.json().catch(() => ({}))) as PublicKeyAnswer & { error?: { message?: string } };
    if (!res.ok) throw new Error(`GET ${url.pathname}: ${res.status} ${body.error?.message ?? ''}`.trim());
    answer = body;
  } else {
    const text = await readFile(opts.publicKeyFile!, 'utf8');
    answer = text.trimStart().startsWith('{') ? (JSON.parse(text) as PublicKeyAnswer) : { current: pemPublicKey(text) };
  }
  const current = answer.current;
  if (!current?.publicKey) throw new Error('no current public key: no delegate of the group has connected with a key yet');
  if (current.algorithm !== undefined && current.algorithm !== SEALING_ALGORITHM) throw new Error(`unsupported key algorithm ${current.algorithm}`);
  const publicKey = Buffer.from(current.publicKey, 'base64url');
  const keyId = keyIdOf(publicKey);
  // The id is derived, never trusted: a key id that did not match its key would route to the wrong group.
  if (current.keyId !== undefined && current.keyId !== keyId) throw new Error(`the answer names key ${current.keyId} but its public key has id ${keyId}`);
  const tenantId = opts.tenant ?? answer.tenantId;
  if (tenantId === undefined) throw new Error('--tenant is required with a public key file');
  if (answer.tenantId !== undefined && tenantId !== answer.tenantId) throw new Error(`--tenant ${tenantId} differs from the key's tenant ${answer.tenantId}`);
  return { keyId, publicKey, tenantId };
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
