import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, expect, it } from 'vitest';
import { createTenant, createToken, spawnDelegate, startControlPlane, waitForDelegates, type ControlPlaneHandle } from '../support/cluster.js';
import type { Proc } from '../support/process.js';

/**
 * Tasks keep flowing while a random delegate process is SIGKILLed every second (and replaced) and
 * the control plane itself is SIGKILLed and restarted once. Afterwards every task must be in a
 * terminal state, none lost, and none ended twice: the control plane logs "task ended" only from
 * the single caller that wins the store's fenced transition, so two such lines for one task would
 * mean two accepted results.
 */
const TASKS = Number(process.env['CHAOS_TASKS'] ?? 10_000);
const DELEGATES = Number(process.env['CHAOS_DELEGATES'] ?? 20);
const CLIENTS = 32;
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'expired']);

let cp: ControlPlaneHandle | undefined;
const delegates = new Set<Proc>();
afterAll(async () => {
  await Promise.all([...delegates].map((d) => d.stop(2_000)));
  await cp?.stop();
});

it(`${TASKS} tasks across ${DELEGATES} delegates under SIGKILLs and a control-plane restart: all end, once`, async () => {
  cp = await startControlPlane({ ATTACHE_API_RATE_LIMIT: '1000000', ATTACHE_MAX_ATTEMPTS: '10', ATTACHE_DEFAULT_QUEUE_TIMEOUT_SECONDS: '600' });
  const control = cp;
  const tenant = await createTenant(control, 'chaos');
  const { token } = await createToken(tenant, 'chaos');
  let serial = 0;
  const spawn = () => {
    const d = spawnDelegate({ url: control.grpcUrl, token, name: 'chaos', tags: ['chaos'], maxConcurrency: 8, env: { ATTACHE_LOG_LEVEL: 'warn' } });
    delegates.add(d);
    void d.exited.then(() => delegates.delete(d));
    serial++;
    return d;
  };
  for (let i = 0; i < DELEGATES; i++) spawn();
  await waitForDelegates(tenant, 'chaos', DELEGATES, 60_000);

  const created: string[] = [];
  let createErrors = 0;
  let next = 0;
  let producing = true;
  const producers = Array.from({ length: CLIENTS }, async () => {
    while (next < TASKS) {
      const i = next++;
      // A short random delay keeps tasks in flight when their delegate is killed.
      const body = { type: 'echo', payload: { message: `t${i}`, delayMs: i % 7 === 0 ? 200 : 0 }, selectors: ['chaos'] };
      for (let attempt = 0; ; attempt++) {
        const res = await tenant.api.post('/v1/tasks', body).catch(() => undefined);
        if (res?.status === 201) {
          created.push(res.body.id);
          break;
        }
        createErrors++;
        // The control plane is down (restart) or briefly overwhelmed: retry, bounded.
        if (attempt > 200) throw new Error(`could not create task ${i}: ${res?.status} ${res?.text}`);
        await sleep(100);
      }
    }
  });

  let kills = 0;
  const killer = (async () => {
    const deadline = Date.now() + 10 * 60_000;
    while (producing && Date.now() < deadline) {
      await sleep(1_000);
      const alive = [...delegates].filter((d) => d.running);
      const victim = alive[Math.floor(Math.random() * alive.length)];
      if (!victim) continue;
      victim.kill('SIGKILL');
      kills++;
      spawn();
    }
  })();

  // Restart the control plane once, a third of the way through.
  const oldLines: string[] = [];
  while (created.length < TASKS / 3) await sleep(50);
  oldLines.push(...control.proc.lines);
  await control.restart('SIGKILL');

  await Promise.all(producers);
  producing = false;
  await killer;

  // Everything created must reach a terminal state.
  const states = new Map<string, number>();
  const notTerminal: string[] = [];
  let cursor = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (cursor < created.length) {
        const id = created[cursor++]!;
        let state = '';
        for (let i = 0; i < 10 && !TERMINAL.has(state); i++) {
          const res = await tenant.api.get(`/v1/tasks/${id}?waitSeconds=30`).catch(() => undefined);
          state = res?.status === 200 ? res.body.state : '';
        }
        states.set(state, (states.get(state) ?? 0) + 1);
        if (!TERMINAL.has(state)) notTerminal.push(id);
      }
    }),
  );

  const ended = new Map<string, number>();
  for (const line of [...oldLines, ...control.proc.lines]) {
    if (!line.includes('"task ended"')) continue;
    const id = (JSON.parse(line) as { taskId?: string }).taskId;
    if (id) ended.set(id, (ended.get(id) ?? 0) + 1);
  }
  const twice = [...ended].filter(([, n]) => n > 1);
  const unique = new Set(created);
  process.stdout.write(
    `[chaos] tasks created ${created.length} (${createErrors} create retries), delegates killed ${kills} (spawned ${serial}), control-plane restarts 1\n` +
      `[chaos] final states ${JSON.stringify(Object.fromEntries(states))}; not terminal ${notTerminal.length}; ended twice ${twice.length}; ` +
      `"task ended" log lines ${[...ended.values()].reduce((a, b) => a + b, 0)}\n`,
  );
  expect(unique.size).toBe(TASKS);
  expect(notTerminal).toEqual([]);
  expect(twice).toEqual([]);
  expect(control.proc.running).toBe(true);
});
