import { Command, Option } from 'commander';
import { newAccountId, sealingKeyFrom, sealValue, secretFromInput, type GroupPublicKeyAnswer } from '@attache/proto/sealed-value';
import { seg } from '../api/client.js';
import { CliError, CliErrorCode } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { runtime } from './runtime.js';

const SEALABLE_FIELDS = ['accessKeyId', 'secretAccessKey', 'sessionToken', 'userKey'];

export function sealCommand(): Command {
  return new Command('seal')
    .description(
      'seal a secret read from standard input (never from the command line) to a delegate group\'s key; prints the sealed value for the account field. ' +
        'It opens only on that group, for this tenant, that account id and that field.',
    )
    .requiredOption('--group <name>', 'delegate group whose current key to seal to')
    .requiredOption('--account <id>', 'account id the value is for (attache new-account-id; create the account with that id)')
    .addOption(new Option('--field <name>', 'account field the value is for').choices(SEALABLE_FIELDS).makeOptionMandatory())
    .action(async (opts: { group: string; account: string; field: string }, cmd: Command) => {
      const rt = runtime(cmd);
      const api = await rt.api();
      const { body } = await api.get<GroupPublicKeyAnswer>(`/v1/delegate-groups/${seg(opts.group)}/public-key`);
      const key = sealingKeyFrom(body);
      if (process.stdin.isTTY) rt.term.err('Type or paste the secret, then press Ctrl-D:\n');
      const secret = secretFromInput(await readStdin());
      try {
        rt.term.out(`${await sealValue(key.publicKey, key.keyId, secret, { tenantId: key.tenantId, accountId: opts.account, field: opts.field })}\n`);
      } catch (err) {
        throw new CliError(CliErrorCode.USAGE, `Cannot seal: ${(err as Error).message}.`, ExitCode.USAGE, {}, { cause: err });
      }
    });
}

export function newAccountIdCommand(): Command {
  return new Command('new-account-id')
    .description('print a fresh account id, to seal values for before creating the account with --id')
    .action(() => {
      process.stdout.write(`${newAccountId()}\n`);
    });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
