import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../../../e2e/src/support/postgres.js';
import { accountSelectors } from '../aws/routing.js';
import { staticReasons, type DelegateView } from '../tasks/eligibility.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store, TaskRecord } from './store.js';

/**
 * The eligibility rule is written in TypeScript (tasks/eligibility.ts, which explains refusals)
 * and again in each backend's claim SQL (which decides them). One table of cases runs through
 * all three; any disagreement is a delegate that is told one thing and handed another.
 */
interface Case {
  name: string;
  delegate: { name: string; tags: string[]; taskTypes: string[] };
  task: { type: string; selectors: string[] };
}

// Delegates carry their own name as a tag (delegates/hello.ts), which is how a gateway pin works.
const d = (name: string, tags: string[], taskTypes: string[] = ['echo']) => ({ name, tags: [...new Set([...tags, name])].sort(), taskTypes });
const pinned = (selectors: string[], gateway: string | null) => accountSelectors({ delegateSelectors: selectors, gateway });

const CASES: Case[] = [
  { name: 'no selectors: any delegate of the type', delegate: d('a', []), task: { type: 'echo', selectors: [] } },
  { name: 'one selector carried', delegate: d('a', ['linux']), task: { type: 'echo', selectors: ['linux'] } },
  { name: 'one selector missing', delegate: d('a', ['windows']), task: { type: 'echo', selectors: ['linux'] } },
  { name: 'all of several carried (a superset)', delegate: d('a', ['aws', 'prod', 'linux']), task: { type: 'echo', selectors: ['aws', 'prod'] } },
  { name: 'one of several missing', delegate: d('a', ['aws']), task: { type: 'echo', selectors: ['aws', 'prod'] } },
  { name: 'duplicate selectors', delegate: d('a', ['aws']), task: { type: 'echo', selectors: ['aws', 'aws'] } },
  { name: 'tags compare exactly (case)', delegate: d('a', ['AWS']), task: { type: 'echo', selectors: ['aws'] } },
  { name: 'a prefix is not the tag', delegate: d('a', ['aws-prod']), task: { type: 'echo', selectors: ['aws'] } },
  { name: 'type not supported', delegate: d('a', ['aws'], ['aws.validate']), task: { type: 'echo', selectors: ['aws'] } },
  { name: 'no types at all', delegate: d('a', ['aws'], []), task: { type: 'echo', selectors: [] } },
  { name: 'one of several types', delegate: d('a', [], ['echo', 'aws.validate']), task: { type: 'aws.validate', selectors: [] } },
  { name: 'tags right, type wrong', delegate: d('a', ['linux'], ['aws.listPolicies']), task: { type: 'aws.validate', selectors: ['linux'] } },
  { name: 'gateway pin: the named delegate', delegate: d('vpc-east', ['aws']), task: { type: 'echo', selectors: pinned(['aws'], 'vpc-east') } },
  { name: 'gateway pin: another delegate with the tags', delegate: d('vpc-west', ['aws']), task: { type: 'echo', selectors: pinned(['aws'], 'vpc-east') } },
  { name: 'gateway pin: the named delegate missing a tag', delegate: d('vpc-east', []), task: { type: 'echo', selectors: pinned(['aws'], 'vpc-east') } },
  { name: 'gateway pin without selectors', delegate: d('vpc-east', ['x']), task: { type: 'echo', selectors: pinned([], 'vpc-east') } },
  { name: 'key tag required and announced', delegate: d('a', ['key:k1']), task: { type: 'echo', selectors: ['key:k1'] } },
  { name: 'key tag required, another key announced', delegate: d('a', ['key:k2']), task: { type: 'echo', selectors: ['key:k1'] } },
];

/** What tasks/eligibility.ts says: no static reason means a connected delegate with room may take it. */
function ruleSays(c: Case): boolean {
  const view: DelegateView = { id: 'x', status: 'connected', inFlight: 0, maxConcurrency: 1, ...c.delegate };
  return staticReasons(view, c.task).length === 0;
}

let server: PostgresServer | undefined;
const backends: Array<{ name: string; open: () => Promise<Store> }> = [
  { name: 'sqlite', open: async () => SqliteStore.open({ path: ':memory:' }) },
  { name: 'postgres', open: async () => PostgresStore.open({ url: await server!.createDatabase('eligibility') }) },
];

beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.stop();
});

describe.each(backends)('eligibility: tasks/eligibility.ts and the $name claim agree', ({ open }) => {
  let store: Store;
  const at = new Date(Date.UTC(2025, 0, 1));
  const lease = new Date(at.getTime() + 30_000);

  beforeAll(async () => {
    store = await open();
    await store.migrate();
  });
  afterAll(async () => {
    await store.close();
  });

  function task(tenantId: string, id: string, c: Case): TaskRecord {
    return {
      id, tenantId, type: c.task.type, payload: {}, selectors: c.task.selectors, priority: 0, state: 'queued', attempt: 1,
      maxAttempts: 3, delegateId: null, queueTimeoutSeconds: 60, runTimeoutSeconds: 60, result: null, error: null,
      accountId: null, requestedBy: null, createdAt: at, queuedAt: at, assignedAt: null, startedAt: null, endedAt: null,
      leaseExpiresAt: null,
    };
  }

  it.each(CASES.map((c, i) => ({ ...c, i })))('$name', async (c) => {
    // A tenant of its own per case, so claimNext sees this case's task alone.
    const tenantId = `tenant-${c.i}`;
    await store.createTenant({ id: tenantId, name: tenantId, externalId: `ext-${c.i}`, createdAt: at }, { id: `key-${c.i}`, tenantId, hash: `hash-${c.i}`, createdAt: at });
    const delegate = { id: `dlg-${c.i}`, tenantId, tags: c.delegate.tags, taskTypes: c.delegate.taskTypes };
    const expected = ruleSays(c);

    await store.insertTask(task(tenantId, `one-${c.i}`, c));
    const claimed = await store.claimTask({ taskId: `one-${c.i}`, delegate, now: at, leaseExpiresAt: lease });
    await store.insertTask(task(tenantId, `next-${c.i}`, c));
    const next = await store.claimNext({ delegate, now: at, leaseExpiresAt: lease });
    await store.insertTask(task(tenantId, `many-${c.i}`, c));
    const many = await store.claimQueued({ delegate, now: at, leaseExpiresAt: lease }, 5);

    expect({ claimTask: claimed !== null, claimNext: next?.id === `next-${c.i}`, claimQueued: many.some((t) => t.id === `many-${c.i}`) }).toEqual({
      claimTask: expected,
      claimNext: expected,
      claimQueued: expected,
    });
  });

  it('the table has both outcomes, so agreement is not vacuous', () => {
    expect(new Set(CASES.map(ruleSays))).toEqual(new Set([true, false]));
  });
});
