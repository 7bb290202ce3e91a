import { Command } from 'commander';
import { outputOption, render } from '../output/render.js';
import { runtime } from './runtime.js';

interface Me {
  kind: 'operator' | 'apiKey' | 'user';
  role: string;
  tenant: { id: string; name: string } | null;
  user?: { email: string };
  apiKey?: { name: string };
  sessionExpiresAt?: string;
}

export function whoamiCommand(): Command {
  return new Command('whoami')
    .description('who the context\'s credential is: user or API key, role and tenant (GET /v1/me)')
    .addOption(outputOption())
    .action(async (_opts, cmd: Command) => {
      const rt = runtime(cmd);
      const { body } = await (await rt.api()).get<Me>('/v1/me');
      render(rt.term, rt.output, body, () => {
        const who = body.kind === 'user' ? `user ${body.user?.email}` : body.kind === 'apiKey' ? `API key ${body.apiKey?.name}` : 'the operator';
        const where = body.tenant ? ` in tenant ${body.tenant.name}` : '';
        const until = body.sessionExpiresAt ? `; session ends at ${body.sessionExpiresAt} at the latest` : '';
        return `${who} (${body.role})${where}${until}\n`;
      });
    });
}
