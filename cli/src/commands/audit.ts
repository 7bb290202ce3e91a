import { Command } from 'commander';
import { outputOption, render } from '../output/render.js';
import { formatTable } from '../output/table.js';
import { runtime } from './runtime.js';

/** An entry of GET /v1/audit, as far as the table shows it (JSON and YAML output keep every field). */
interface AuditEntry {
  at: string;
  actor: { type: string; id?: string; email?: string; name?: string };
  role: string | null;
  clientAddress: string | null;
  action: string;
  target: { type: string; id: string | null; name: string | null };
  outcome: string;
}

/** The person or program: an email, an API key's name, `operator` or `anonymous`. */
const actorText = (a: AuditEntry['actor']): string => a.email ?? (a.type === 'apiKey' ? `key:${a.name ?? a.id}` : a.type);
const targetText = (t: AuditEntry['target']): string => `${t.type}/${t.name ?? t.id ?? '-'}`;

/** The audit trail (GET /v1/audit, admin): newest first, one page (50 entries unless --limit); the full trail is GET /v1/audit/export. */
export function auditCommand(): Command {
  return new Command('audit')
    .description('the audit trail: who did what, from where, with which outcome')
    .option('--actor <actor>', 'only entries of this actor (user id or email, API key id or name, or operator)')
    .option('--action <action>', 'only entries of this action (e.g. account.create, session.sign_in_failed)')
    .option('--since <time>', 'entries at or after this time (ISO 8601)')
    .option('--until <time>', 'entries before this time (ISO 8601)')
    .option('--limit <n>', 'at most this many entries, newest first (1-500, default 50)')
    .addOption(outputOption())
    .action(async (opts: { actor?: string; action?: string; since?: string; until?: string; limit?: string }, cmd: Command) => {
      const rt = runtime(cmd);
      const { body } = await (await rt.api()).get<{ items: AuditEntry[] }>('/v1/audit', { actor: opts.actor, action: opts.action, since: opts.since, until: opts.until, limit: opts.limit });
      render(rt.term, rt.output, body, () =>
        formatTable<AuditEntry>(
          [
            { header: 'at', value: (e) => e.at },
            { header: 'actor', value: (e) => actorText(e.actor) },
            { header: 'role', value: (e) => e.role },
            { header: 'from', value: (e) => e.clientAddress },
            { header: 'action', value: (e) => e.action },
            { header: 'target', value: (e) => targetText(e.target) },
            { header: 'outcome', value: (e) => e.outcome },
          ],
          body.items,
          { header: rt.term.color.bold },
        ),
      );
    });
}
