import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/cluster.js';
import { findObject, helmTemplate } from './support/deploy-tools.js';

/**
 * deploy/Dockerfile is not built here (no Docker engine on these machines), so what can be checked
 * without building is checked: a supported Node.js LTS in every stage, a non-root user, and that the
 * image and the charts agree on the user and on the programs they start.
 */
const SUPPORTED_NODE_LTS = ['22', '24'];

describe('Dockerfile', () => {
  it('builds on a supported Node.js LTS, runs as the non-root uid the charts expect, and has the programs they start', async () => {
    const dockerfile = await readFile(join(REPO_ROOT, 'deploy/Dockerfile'), 'utf8');
    const bases = [...dockerfile.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]!);
    expect(bases.length).toBeGreaterThanOrEqual(2);
    for (const base of bases) expect(SUPPORTED_NODE_LTS).toContain(/^node:(\d+)/.exec(base)?.[1]);

    // The last USER is the runtime's: numeric, not root, the uid both charts set.
    const users = [...dockerfile.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]!);
    const [uid, gid] = users.at(-1)!.split(':').map(Number);
    expect(uid).toBeGreaterThan(0);
    for (const chart of ['attache-delegate', 'attache-control-plane']) {
      const { objects, stderr } = await helmTemplate(chart, ['ci/defaults-values.yaml']);
      const pod = findObject(objects, 'Deployment').spec.template.spec;
      expect(pod.securityContext.runAsUser, stderr).toBe(uid);
      expect(pod.securityContext.runAsGroup).toBe(gid);
      // The chart's command is a program the image's build produces (`npm run build` in /app).
      const [node, program] = pod.containers[0].command;
      expect(node).toBe('node');
      await access(join(REPO_ROOT, program));
    }
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
  });
});
