import { Command, Option } from 'commander';
import { seg } from '../api/client.js';
import { outputOption, render } from '../output/render.js';
import { formatTable } from '../output/table.js';
import type { TaskView } from '../progress/progress-source.js';
import { resolveAccount, type Account } from './account-ref.js';
import { runtime } from './runtime.js';

interface Policy {
  arn: string;
  name: string;
  [k: string]: unknown;
}

/** Retries a 202 (the listing still runs on a delegate) with a server-side wait each time. */
const POLICY_WAIT_SECONDS = 20;

/** `accounts policies`: what the account's credentials can see, and the ones chosen for it. */
export function policiesCommand(): Command {
  const policies = new Command('policies').description('IAM policies the account\'s credentials can see, and the ones chosen for it');

  policies
    .command('list', { isDefault: true })
    .description('list available policies (after a successful validation); attache accounts policies ACCOUNT')
    .argument('<account>', 'account name or id')
    .addOption(new Option('--scope <scope>', 'which policies').choices(['All', 'AWS', 'Local']).default('All'))
    .option('--path-prefix <prefix>', 'only policies under this path, e.g. /attache/')
    .option('--name-contains <text>', 'only policies whose name contains this')
    .addOption(outputOption())
    .action(async (ref: string, opts: { scope: string; pathPrefix?: string; nameContains?: string }, cmd: Command) => {
      const rt = runtime(cmd);
      const api = await rt.api();
      const account = await resolveAccount(api, ref);
      const query = { waitSeconds: POLICY_WAIT_SECONDS, scope: opts.scope, pathPrefix: opts.pathPrefix, nameContains: opts.nameContains };
      let answer = await api.get<{ policies?: Policy[]; task?: TaskView }>(`/v1/aws/accounts/${seg(account.id)}/available-policies`, query);
      while (answer.status === 202) answer = await api.get(`/v1/aws/accounts/${seg(account.id)}/available-policies`, query);
      const chosen = new Set(account.policyArns);
      const items = answer.body.policies ?? [];
      render(rt.term, rt.output, answer.body, () =>
        formatTable(
          [
            { header: 'name', value: (p: Policy) => p.name },
            { header: 'arn', value: (p: Policy) => p.arn },
            { header: 'chosen', value: (p: Policy) => (chosen.has(p.arn) ? 'yes' : '') },
          ],
          items,
          { header: rt.term.color.bold },
        ),
      );
    });

  policies
    .command('set')
    .description('record the policies chosen for the account (replaces the previous choice)')
    .argument('<account>', 'account name or id')
    .argument('[arns...]', 'policy ARNs; none clears the choice')
    .addOption(outputOption())
    .action(async (ref: string, arns: string[], _opts, cmd: Command) => {
      const rt = runtime(cmd);
      const api = await rt.api();
      const account = await resolveAccount(api, ref);
      const { body } = await api.put<Account>(`/v1/aws/accounts/${seg(account.id)}/policies`, { policyArns: arns });
      render(rt.term, rt.output, body, () => `${body.name} (${body.id}): ${body.policyArns.length} polic${body.policyArns.length === 1 ? 'y' : 'ies'} chosen\n`);
    });
  return policies;
}
