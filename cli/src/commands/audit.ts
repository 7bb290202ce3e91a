import { Command } from 'commander';
import { outputOption, render } from '../output/render.js';
import { formatTable } from '../output/table.js';
import { runtime } from './runtime.js';

interface AuditEntry {
  [k: string]: unknown;
}

/**
 * The audit trail (GET /v1/audit). A control plane without the route answers 404 NOT_FOUND,
 * which is printed like any API error: nothing here pretends the trail exists.
 */
export function auditCommand(): Command {
  return new Command('audit')
    .description('the audit trail: who did what, from where, with which outcome')
    .option('--actor <actor>', 'only entries of this actor')
    .option('--action <action>', 'only entries of this action')
    .option('--since <time>', 'entries at or after this time (ISO 8601)')
    .option('--until <time>', 'entries before this time (ISO 8601)')
    .addOption(outputOption())
    .action(async (opts: { actor?: string; action?: string; since?: string; until?: string }, cmd: Command) => {
      const rt = runtime(cmd);
      const { body } = await (await rt.api()).get<{ items: AuditEntry[] }>('/v1/audit', { actor: opts.actor, action: opts.action, since: opts.since, until: opts.until });
      render(rt.term, rt.output, body, () =>
        formatTable(
          ['at', 'actor', 'action', 'target', 'outcome'].map((field) => ({ header: field, value: (e: AuditEntry) => e[field] })),
          body.items ?? [],
          { header: rt.term.color.bold },
        ),
      );
    });
}
