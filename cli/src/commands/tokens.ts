import { Command } from 'commander';
import { seg } from '../api/client.js';
import { pickByNameOrId } from '../api/resolve.js';
import { outputOption, render } from '../output/render.js';
import { formatTable } from '../output/table.js';
import { list, runtime } from './runtime.js';

/** Delegate tokens: what a delegate connects with, shown once at creation. */
interface Token {
  id: string;
  name: string;
  status: string;
  createdAt: string;
  revokedAt: string | null;
  token?: string;
  [k: string]: unknown;
}

export function tokensCommand(): Command {
  const tokens = new Command('tokens').description('delegate tokens: what a delegate connects with');

  tokens
    .command('create')
    .description('create a delegate token; it is shown once')
    .argument('<name>', 'token name')
    .option('--group <group>', 'bind the token to this delegate group: its delegates must register under this name')
    .option('--tags <tags>', 'bind the token to these tags (comma-separated): its delegates may declare no others', list)
    .addOption(outputOption())
    .action(async (name: string, opts: { group?: string; tags?: string[] }, cmd: Command) => {
      const rt = runtime(cmd);
      // group and tags only when given: an unbound token stays unbound.
      const body = { name, ...(opts.group !== undefined ? { group: opts.group } : {}), ...(opts.tags !== undefined ? { tags: opts.tags } : {}) };
      // -o json|yaml prints the API's answer field for field, the token included: it is shown once.
      const { body: t } = await (await rt.api()).post<Token>('/v1/delegate-tokens', body);
      render(rt.term, rt.output, t, () => `created delegate token ${t.name} (${t.id}); it is shown only now:\n${t.token}\n`);
    });

  tokens
    .command('list')
    .description('list delegate tokens (never their values)')
    .addOption(outputOption())
    .action(async (_opts, cmd: Command) => {
      const rt = runtime(cmd);
      const body = await (await rt.api()).list<Token>('/v1/delegate-tokens');
      render(rt.term, rt.output, body, () =>
        formatTable(
          [
            { header: 'name', value: (t: Token) => t.name },
            { header: 'id', value: (t: Token) => t.id },
            { header: 'status', value: (t: Token) => t.status },
            // Bindings: the group its delegates must register as, the only tags they may declare.
            { header: 'group', value: (t: Token) => t['group'] },
            { header: 'tags', value: (t: Token) => t['tags'] },
            { header: 'created', value: (t: Token) => t.createdAt },
            { header: 'revoked', value: (t: Token) => t.revokedAt },
          ],
          body.items,
          { header: rt.term.color.bold },
        ),
      );
    });

  tokens
    .command('revoke')
    .description('revoke a token; delegates connected with it are disconnected at once')
    .argument('<token>', 'token name or id')
    .addOption(outputOption())
    .action(async (ref: string, _opts, cmd: Command) => {
      const rt = runtime(cmd);
      const api = await rt.api();
      const all = await api.list<Token>('/v1/delegate-tokens');
      // By name, only active tokens count: a revoked one of the same name is history, not ambiguity.
      const byId = all.items.find((t) => t.id === ref);
      const token = byId ?? pickByNameOrId(all.items.filter((t) => t.status === 'active'), ref, 'active delegate token', 'attache tokens list');
      const { body } = await api.post<Token>(`/v1/delegate-tokens/${seg(token.id)}/revoke`);
      render(rt.term, rt.output, body, () => `revoked delegate token ${body.name} (${body.id})\n`);
    });
  return tokens;
}
