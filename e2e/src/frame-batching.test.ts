import { afterEach, describe, expect, it } from 'vitest';
import { Agent, Masker, builtinExecutors, createCarrier, createLogger } from '@attache/delegate';
import { createTenant, createToken, eventually, startControlPlane, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';

/**
 * Batched delegate frames through a real control-plane process and real agents (the delegate's own
 * Agent and carriers): a pump's Assigns leave in AssignBatch frames and a turn's Accepted/Result in
 * DelegateBatch frames when both sides announced batches, and each side that did not gets single
 * frames. The tasks end the same way whichever frames carried them.
 */
const TASKS = 48;
const wsUrl = (cp: ControlPlaneHandle) => cp.httpUrl.replace(/^http/, 'ws');

/** `attache_delegate_task_frames_total` and `..._items_total` by direction and frame, from /metrics. */
async function frameCounts(cp: ControlPlaneHandle): Promise<Record<string, { frames: number; items: number }>> {
  const text = await (await fetch(`${cp.httpUrl}/metrics`)).text();
  const out: Record<string, { frames: number; items: number }> = {};
  for (const line of text.split('\n')) {
    const m = /^attache_delegate_task_frame(s|_items)_total\{direction="(\w+)",frame="(\w+)"\} (\d+)/.exec(line);
    if (!m) continue;
    const key = `${m[2]}:${m[3]}`;
    out[key] ??= { frames: 0, items: 0 };
    out[key][m[1] === 's' ? 'frames' : 'items'] = Number(m[4]);
  }
  return out;
}

describe('frame batching, negotiated', () => {
  let cp: ControlPlaneHandle | undefined;
  const agents: Agent[] = [];

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await cp?.stop();
    cp = undefined;
  });

  async function agent(tenant: TenantHandle, url: string, name: string, maxBatchItems?: number): Promise<Agent> {
    const { token } = await createToken(tenant, name);
    const masker = new Masker();
    const a = new Agent({
      url,
      token,
      name,
      maxConcurrency: 32,
      executors: builtinExecutors(),
      logger: createLogger({ level: 'silent', masker }),
      masker,
      carrier: createCarrier(url, { token }),
      ...(maxBatchItems === undefined ? {} : { maxBatchItems }),
    });
    agents.push(a);
    const registered = new Promise<void>((resolve) => a.once('registered', () => resolve()));
    a.start();
    await registered;
    return a;
  }

  /** Creates TASKS echo tasks for `selector` in one batch request and returns them once all ended. */
  async function runTasks(tenant: TenantHandle, selector: string): Promise<Array<{ state: string; result: unknown; attempt: number; startedAt: string | null }>> {
    const res = await tenant.api.post('/v1/tasks/batch', {
      tasks: Array.from({ length: TASKS }, (_, i) => ({ type: 'echo', payload: { message: `m${i}` }, selectors: [selector] })),
    });
    expect(res.status, res.text).toBe(200);
    const ids: string[] = res.body.results.map((r: any) => r.task.id);
    return Promise.all(
      ids.map(async (id) => {
        const t = (await tenant.api.get(`/v1/tasks/${id}?waitSeconds=30`)).body;
        return { state: t.state, result: t.result, attempt: t.attempt, startedAt: t.startedAt };
      }),
    );
  }

  const expectAllEchoed = (ended: Awaited<ReturnType<typeof runTasks>>) => {
    expect(ended.map((t) => t.state)).toEqual(Array(TASKS).fill('succeeded'));
    expect(ended.map((t) => t.result)).toEqual(Array.from({ length: TASKS }, (_, i) => ({ message: `m${i}` })));
    expect(ended.every((t) => t.attempt === 1 && t.startedAt !== null)).toBe(true);
  };

  for (const carrier of ['grpc', 'websocket'] as const) {
    it(`${carrier}: both sides batch; a delegate without batches and a control plane without them get single frames`, async () => {
      cp = await startControlPlane();
      const tenant = await createTenant(cp, `batch-${carrier}`);
      const url = carrier === 'grpc' ? cp.grpcUrl : wsUrl(cp);

      // New on both sides: Assigns and results travel in batches.
      await agent(tenant, url, 'batcher');
      expectAllEchoed(await runTasks(tenant, 'batcher'));
      const batched = await frameCounts(cp);
      expect(batched['sent:assign_batch']?.frames ?? 0).toBeGreaterThan(0);
      expect(batched['received:batch']?.frames ?? 0).toBeGreaterThan(0);
      // Fewer frames than items each way: several tasks shared a frame.
      const sentFrames = (batched['sent:assign']?.frames ?? 0) + (batched['sent:assign_batch']?.frames ?? 0);
      expect(sentFrames).toBeLessThan(TASKS);
      const receivedItems = ['accepted', 'result', 'batch'].reduce((n, f) => n + (batched[`received:${f}`]?.items ?? 0), 0);
      const receivedFrames = ['accepted', 'result', 'batch'].reduce((n, f) => n + (batched[`received:${f}`]?.frames ?? 0), 0);
      expect(receivedFrames).toBeLessThan(receivedItems);
      expect(receivedItems).toBeGreaterThanOrEqual(TASKS);

      // A delegate that announces no batches (as one that predates them): single frames only, either way.
      await agents.splice(0)[0]!.stop();
      await agent(tenant, url, 'single', 0);
      expectAllEchoed(await runTasks(tenant, 'single'));
      const single = await frameCounts(cp);
      expect(single['sent:assign_batch']?.frames).toBe(batched['sent:assign_batch']?.frames);
      expect(single['received:batch']?.frames).toBe(batched['received:batch']?.frames);
      expect((single['sent:assign']?.frames ?? 0) - (batched['sent:assign']?.frames ?? 0)).toBe(TASKS);
      expect((single['received:result']?.frames ?? 0) - (batched['received:result']?.frames ?? 0)).toBe(TASKS);
      expect((single['received:accepted']?.frames ?? 0) - (batched['received:accepted']?.frames ?? 0)).toBe(TASKS);
      await agents.splice(0)[0]!.stop();
      await cp.stop();

      // A control plane that takes no batches (as one that predates them) with a delegate that would.
      cp = await startControlPlane({ ATTACHE_DELEGATE_BATCH_ITEMS: '0' });
      const old = await createTenant(cp, `old-${carrier}`);
      await agent(old, carrier === 'grpc' ? cp.grpcUrl : wsUrl(cp), 'eager');
      expectAllEchoed(await runTasks(old, 'eager'));
      const oldCounts = await frameCounts(cp);
      expect(oldCounts['sent:assign_batch']).toBeUndefined();
      expect(oldCounts['received:batch']).toBeUndefined();
      expect(oldCounts['sent:assign']?.frames).toBe(TASKS);
      expect(oldCounts['received:result']?.frames).toBe(TASKS);
      await eventually(async () => ((await frameCounts(cp!))['received:accepted']?.frames === TASKS ? true : undefined), 5_000, 'every Accepted');
    }, 90_000);
  }
});
