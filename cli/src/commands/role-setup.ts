import { writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { usageError } from '../errors.js';
import { OUTPUT_FORMATS, render, type OutputFormat } from '../output/render.js';
import { formatFields } from '../output/table.js';
import { list, runtime } from './runtime.js';

interface RoleSetup {
  externalId: string;
  partition: string;
  principalIsPlaceholder: boolean;
  placeholderHelp?: string;
  trustPolicy: unknown;
  permissionPolicy: unknown;
  notes?: string[];
  [k: string]: unknown;
}

/** What a CloudFormation answer may carry: the template as text, or a JSON object holding it. */
function templateText(answer: { body: unknown; text: string }): string {
  const body = answer.body as { template?: unknown } | string;
  if (typeof body === 'object' && body !== null && typeof body.template === 'string') return body.template;
  if (typeof body === 'object' && body !== null) return `${JSON.stringify(body, null, 2)}\n`;
  return answer.text;
}

export function roleSetupCommand(): Command {
  return new Command('role-setup')
    .description('the IAM role Attaché validates with: trust and permission policies, or the CloudFormation template')
    .option('--selectors <tags>', 'delegates that will assume the role, by tags (comma-separated)', list)
    .option('--gateway <group>', 'the delegate group that will assume the role')
    .addOption(new Option('--partition <partition>', 'partition of the role').choices(['aws', 'aws-us-gov', 'aws-iso', 'aws-iso-b']).default('aws'))
    .option('--cloudformation', 'the CloudFormation template instead of the policies')
    .option('-o, --output <format|file>', `${OUTPUT_FORMATS.join('|')} for the policies; with --cloudformation, the file to write (default: standard output)`)
    .action(async (opts: { selectors?: string[]; gateway?: string; partition: string; cloudformation?: boolean; output?: string }, cmd: Command) => {
      const rt = runtime(cmd);
      const api = await rt.api();
      const query = { selectors: opts.selectors?.join(','), gateway: opts.gateway, partition: opts.partition };
      if (opts.cloudformation) {
        const answer = await api.get('/v1/aws/role-setup', { ...query, format: 'cloudformation' });
        const text = templateText(answer);
        if (opts.output === undefined) {
          rt.term.out(text.endsWith('\n') ? text : `${text}\n`);
        } else {
          await writeFile(opts.output, text);
          rt.term.err(`wrote the CloudFormation template to ${opts.output}\n`);
        }
        return;
      }
      const format = opts.output ?? 'table';
      if (!(OUTPUT_FORMATS as readonly string[]).includes(format)) throw usageError(`-o ${format}: without --cloudformation the output is one of ${OUTPUT_FORMATS.join(', ')}.`);
      const { body } = await api.get<RoleSetup>('/v1/aws/role-setup', query);
      render(rt.term, format as OutputFormat, body, () => {
        const c = rt.term.color;
        return (
          formatFields([['external id', body.externalId], ['partition', body.partition]], { label: c.bold }) +
          (body.principalIsPlaceholder ? `${c.yellow('note:')} ${body.placeholderHelp ?? 'the trust policy\'s principal is a placeholder'}\n` : '') +
          `\n${c.bold('Trust policy')} (the role's trust relationship):\n${JSON.stringify(body.trustPolicy, null, 2)}\n` +
          `\n${c.bold('Permission policy')} (attach to the role):\n${JSON.stringify(body.permissionPolicy, null, 2)}\n` +
          (body.notes?.length ? `\n${body.notes.map((n) => `- ${n}`).join('\n')}\n` : '')
        );
      });
    });
}
