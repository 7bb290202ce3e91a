import { Command, Option } from 'commander';
import { seg } from '../api/client.js';
import { CliError, usageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { outputOption, render } from '../output/render.js';
import { formatFields, formatTable } from '../output/table.js';
import type { TaskView } from '../progress/progress-source.js';
import { followTask } from '../progress/task-progress.js';
import { policiesCommand } from './account-policies.js';
import { resolveAccount, type Account } from './account-ref.js';
import { accountFromFile, accountFromFlags, AUTH_TYPES, flagName, type AccountFlags } from './account-from-flags.js';
import { list, runtime, type Runtime } from './runtime.js';

const accountColumns = [
  { header: 'name', value: (a: Account) => a.name },
  { header: 'id', value: (a: Account) => a.id },
  { header: 'partition', value: (a: Account) => a.partition },
  { header: 'auth', value: (a: Account) => (a.auth.type === 'assumeRole' ? `assumeRole(${(a.auth['source'] as { type?: string } | undefined)?.type ?? 'delegate'})` : a.auth.type) },
  { header: 'status', value: (a: Account) => a.status },
  { header: 'aws account', value: (a: Account) => a.awsAccountId },
  { header: 'last checked', value: (a: Account) => a.lastCheckedAt },
];

function accountFields(rt: Runtime, a: Account): string {
  return formatFields(
    [
      ['name', a.name],
      ['id', a.id],
      ['partition', a.partition],
      ['auth', a.auth],
      ['selectors', a.delegateSelectors],
      ['gateway', a.gateway],
      ['status', a.status],
      ['aws account', a.awsAccountId],
      ['arn', a.arn],
      ['last checked', a.lastCheckedAt],
      ['last error', a.lastError ? `${a.lastError.code}: ${a.lastError.message}` : null],
      ['policies', a.policyArns],
    ],
    { label: rt.term.color.bold },
  );
}

export function accountsCommand(): Command {
  const accounts = new Command('accounts').description('AWS accounts: descriptions of credentials that delegates validate');

  accounts
    .command('list')
    .description('list the tenant\'s AWS accounts')
    .addOption(outputOption())
    .action(async (_opts, cmd: Command) => {
      const rt = runtime(cmd);
      const body = await (await rt.api()).list<Account>('/v1/aws/accounts');
      render(rt.term, rt.output, body, () => formatTable(accountColumns, body.items, { header: rt.term.color.bold }));
    });

  accounts
    .command('get')
    .description('show one account')
    .argument('<account>', 'account name or id')
    .addOption(outputOption())
    .action(async (ref: string, _opts, cmd: Command) => {
      const rt = runtime(cmd);
      const account = await resolveAccount(await rt.api(), ref);
      render(rt.term, rt.output, account, () => accountFields(rt, account));
    });

  accounts
    .command('create')
    .description('create an account from flags, or from a YAML/JSON file with the API\'s body (-f)')
    .option('-f, --file <file>', 'YAML or JSON file with the account, the same shape as POST /v1/aws/accounts ("-" reads standard input)')
    .option('--name <name>', 'account name')
    .option('--id <id>', 'account id to create it with (attache new-account-id; needed for sealed values)')
    .option('--description <text>', 'free text')
    .option('--partition <partition>', 'aws, aws-us-gov, aws-iso or aws-iso-b (default aws)')
    .option('--test-region <region>', 'region for ec2:DescribeRegions (default: the partition\'s)')
    .option('--selectors <tags>', 'delegate selectors, comma-separated (delegateSelectors)', list)
    .option('--gateway <group>', 'run this account\'s tasks only on this delegate group')
    .option('--sts-endpoint <url>', 'STS endpoint override (endpoints.sts)')
    .option('--ec2-endpoint <url>', 'EC2 endpoint override (endpoints.ec2)')
    .option('--iam-endpoint <url>', 'IAM endpoint override (endpoints.iam)')
    .option('--ca-bundle-file <pem>', 'PEM file: the only trust store of the account\'s AWS calls (caBundle)')
    .addOption(new Option('--auth-type <type>', 'where credentials come from (auth.type; default static)').choices(AUTH_TYPES))
    .option('--access-key-id <ref>', 'static: reference to the access key id, e.g. env:AWS_ACCESS_KEY_ID')
    .option('--secret-access-key <ref>', 'static: reference to the secret key (env:, file:, or a sealed: value)')
    .option('--session-token <ref>', 'static: reference to a session token')
    .option('--role-arn <arn>', 'assumeRole: the role to assume; irsa: the role (else the pod\'s AWS_ROLE_ARN)')
    .option('--external-id <id>', 'assumeRole: external ID (default: the tenant\'s)')
    .option('--session-name <name>', 'assumeRole or irsa: role session name')
    .option('--duration-seconds <n>', 'assumeRole: session duration, 900..43200')
    .addOption(new Option('--source-type <type>', 'assumeRole: base credentials to assume the role with (default delegate); takes that type\'s flags').choices(AUTH_TYPES.filter((t) => t !== 'assumeRole')))
    .option('--source-role-arn <arn>', 'assumeRole with --source-type irsa: the web-identity role')
    .option('--source-session-name <name>', 'assumeRole with --source-type irsa: its session name')
    .option('--portal-url <url>', 'scap: the access portal\'s credentials endpoint (https)')
    .option('--agency-name <name>', 'scap: agency')
    .option('--account-name <name>', 'scap: account (mission) name')
    .option('--role-name <name>', 'scap: role name, without the prefix')
    .option('--role-prefix <prefix>', 'scap: role prefix (default PROJECT_)')
    .option('--permission-boundary-arn <arn>', 'scap: permission boundary policy ARN')
    .option('--user-certificate-file <pem>', 'scap: PEM file of the user certificate (userCertificate)')
    .option('--user-key <ref>', 'scap: reference to the user\'s private key')
    .addOption(outputOption())
    .action(async (opts: AccountFlags & { file?: string }, cmd: Command) => {
      const rt = runtime(cmd);
      const { file, ...flags } = opts;
      let body: Record<string, unknown>;
      if (file !== undefined) {
        const extra = Object.keys(flags).filter((k) => k !== 'output' && (flags as Record<string, unknown>)[k] !== undefined);
        if (extra.length > 0) throw usageError(`-f takes the whole account from the file; drop ${extra.map(flagName).join(', ')}.`);
        body = accountFromFile(file);
      } else {
        body = accountFromFlags(flags);
      }
      const { body: account } = await (await rt.api()).post<Account>('/v1/aws/accounts', body);
      render(rt.term, rt.output, account, () => `created AWS account ${account.name} (${account.id})\n`);
    });

  accounts
    .command('validate')
    .description('validate the account through a delegate, showing progress; exits 1 with the error code when invalid')
    .argument('<account>', 'account name or id')
    .addOption(outputOption())
    .action(async (ref: string, _opts, cmd: Command) => {
      const rt = runtime(cmd);
      const api = await rt.api();
      const account = await resolveAccount(api, ref);
      const started = await api.post<{ account: Account; task: TaskView }>(`/v1/aws/accounts/${seg(account.id)}/validate`, undefined, { waitSeconds: 0 });
      const task = await followTask(api, rt.progress(api), rt.term, started.body.task, `validating ${account.name}`);
      const final = (await api.get<Account>(`/v1/aws/accounts/${seg(account.id)}`)).body;
      render(rt.term, rt.output, { account: final, task }, () => validationSummary(rt, final, task));
      if (task.state !== 'succeeded') {
        const error = task.error ?? { code: task.state.toUpperCase(), message: `The validation task ended ${task.state}.` };
        throw new CliError(error.code, error.message, ExitCode.FAILURE, { taskId: task.id, ...(error.details ?? {}) });
      }
    });

  accounts
    .command('delete')
    .description('delete an account')
    .argument('<account>', 'account name or id')
    .action(async (ref: string, _opts, cmd: Command) => {
      const rt = runtime(cmd);
      const api = await rt.api();
      const account = await resolveAccount(api, ref);
      await api.delete(`/v1/aws/accounts/${seg(account.id)}`);
      rt.term.out(`deleted AWS account ${account.name} (${account.id})\n`);
    });

  accounts.addCommand(policiesCommand());
  return accounts;
}

function validationSummary(rt: Runtime, account: Account, task: TaskView): string {
  const c = rt.term.color;
  if (task.state !== 'succeeded') return `${c.red('invalid')}  ${account.name} (${account.id})\n`;
  const steps = (task.result?.['steps'] as Array<{ name: string; ms?: number; durationMs?: number }> | undefined) ?? [];
  return (
    `${c.green('valid')}  ${account.name} (${account.id})\n` +
    formatFields(
      [
        ['aws account', account.awsAccountId],
        ['arn', account.arn],
        ['partition', account.partition],
        ['regions', (task.result?.['regions'] as string[] | undefined)?.length ?? null],
        ['steps', steps.map((s) => s.name)],
        ['task', task.id],
      ],
      { label: c.bold },
    )
  );
}
