import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, startDelegate, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import type { Proc } from './support/process.js';

/**
 * Routing through real processes: a control plane and delegates connected over gRPC, tasks
 * created over HTTP. Each task must land only where its selectors match, and capacity holds.
 */
describe('routing by tags over real gRPC connections', () => {
  let cp: ControlPlaneHandle;
  let acme: TenantHandle;
  let other: TenantHandle;
  const procs: Proc[] = [];

  beforeAll(async () => {
    cp = await startControlPlane();
    acme = await createTenant(cp, 'acme');
    other = await createTenant(cp, 'other');
    const acmeToken = await createToken(acme, 'routing');
    const otherToken = await createToken(other, 'routing');
    procs.push(
      await startDelegate(acme, { url: cp.grpcUrl, token: acmeToken.token, name: 'east', tags: ['aws', 'us-east'], maxConcurrency: 2 }),
      await startDelegate(acme, { url: cp.grpcUrl, token: acmeToken.token, name: 'west', tags: ['aws', 'us-west'], maxConcurrency: 2 }),
      await startDelegate(other, { url: cp.grpcUrl, token: otherToken.token, name: 'east', tags: ['aws', 'us-east'], maxConcurrency: 8 }),
    );
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await cp?.stop();
  });

  const run = async (tenant: TenantHandle, body: Record<string, unknown>) => {
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', ...body });
    expect(created.status).toBe(201);
    const done = await tenant.api.get(`/v1/tasks/${created.body.id}?waitSeconds=20`);
    return done.body;
  };

  it('lists the connected delegates with their tags, name tag, task types and transport', async () => {
    const res = await acme.api.get('/v1/delegates');
    expect(res.status).toBe(200);
    const east = res.body.items.find((d: any) => d.name === 'east');
    expect(east).toMatchObject({ status: 'connected', transport: 'grpc', maxConcurrency: 2, inFlight: 0 });
    expect(east.tags).toEqual(expect.arrayContaining(['aws', 'us-east', 'east']));
    expect(east.taskTypes).toEqual(expect.arrayContaining(['echo', 'aws.validate']));
    expect(Date.parse(east.connectedAt)).toBeGreaterThan(0);
    expect(Date.parse(east.lastHeartbeatAt)).toBeGreaterThan(0);
    // Tenant isolation in listings: acme sees its two delegates only.
    expect(res.body.items.map((d: any) => d.name).sort()).toEqual(['east', 'west']);
  });

  it('runs each task only on a delegate carrying all its selectors', async () => {
    const listing = (await acme.api.get('/v1/delegates')).body.items as any[];
    const idOf = (name: string) => listing.find((d) => d.name === name).id;
    for (let i = 0; i < 4; i++) {
      const east = await run(acme, { payload: { message: `e${i}` }, selectors: ['us-east'] });
      expect(east.state).toBe('succeeded');
      expect(east.result).toEqual({ message: `e${i}` });
      expect(east.delegateId).toBe(idOf('east'));
      const west = await run(acme, { payload: { message: `w${i}` }, selectors: ['aws', 'us-west'] });
      expect(west.state).toBe('succeeded');
      expect(west.delegateId).toBe(idOf('west'));
    }
    // The delegate's own name is a tag: pin a task to one delegate group.
    const pinned = await run(acme, { payload: { message: 'pin' }, selectors: ['west'] });
    expect(pinned.delegateId).toBe(idOf('west'));
  });

  it('reports timestamps, attempt and the delegate on a finished task', async () => {
    const t = await run(acme, { payload: { message: 'ts' }, selectors: ['aws'] });
    expect(t).toMatchObject({ state: 'succeeded', attempt: 1, error: null });
    for (const k of ['createdAt', 'queuedAt', 'assignedAt', 'startedAt', 'endedAt']) expect(Date.parse(t[k])).toBeGreaterThan(0);
    expect(Date.parse(t.endedAt)).toBeGreaterThanOrEqual(Date.parse(t.createdAt));
  });

  it('fails at once with NO_ELIGIBLE_DELEGATE and per-delegate reasons for unknown selectors', async () => {
    const created = await acme.api.post('/v1/tasks', { type: 'echo', payload: { message: 'x' }, selectors: ['gpu', 'aws'] });
    expect(created.status).toBe(201);
    expect(created.body.state).toBe('failed');
    expect(created.body.error.code).toBe('NO_ELIGIBLE_DELEGATE');
    const reasons = created.body.error.details.delegates as Array<{ name: string; reasons: string[] }>;
    expect(reasons.map((r) => r.name).sort()).toEqual(['east', 'west']);
    for (const r of reasons) expect(r.reasons).toContain('missing tags: gpu');
  });

  it('respects max concurrency and queues the rest until a slot frees', async () => {
    // east takes 2 at a time; 5 slow tasks pinned to it must never run more than 2 at once.
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await acme.api.post('/v1/tasks', { type: 'echo', payload: { message: `slow${i}`, delayMs: 400 }, selectors: ['east'] });
      ids.push(r.body.id);
    }
    let maxSeen = 0;
    let queuedSeen = 0;
    for (let i = 0; i < 15; i++) {
      const d = (await acme.api.get('/v1/delegates')).body.items.find((x: any) => x.name === 'east');
      maxSeen = Math.max(maxSeen, d.inFlight);
      const q = await acme.api.get('/v1/queue');
      queuedSeen = Math.max(queuedSeen, q.body.queued);
      await new Promise((r) => setTimeout(r, 60));
    }
    const results = await Promise.all(ids.map((id) => acme.api.get(`/v1/tasks/${id}?waitSeconds=20`)));
    expect(results.map((r) => r.body.state)).toEqual(Array(5).fill('succeeded'));
    expect(maxSeen).toBeLessThanOrEqual(2);
    expect(maxSeen).toBeGreaterThan(0);
    expect(queuedSeen).toBeGreaterThan(0);
    // With 2 slots and 400 ms each, 5 tasks need at least 3 rounds.
    const starts = results.map((r) => Date.parse(r.body.startedAt)).sort((a, b) => a - b);
    expect(starts[4]! - starts[0]!).toBeGreaterThanOrEqual(700);
  });

  it('expires a task whose eligible delegates stay busy past the queue timeout, explaining why', async () => {
    const blockers = [];
    for (let i = 0; i < 2; i++) {
      blockers.push((await acme.api.post('/v1/tasks', { type: 'echo', payload: { message: 'block', delayMs: 3000 }, selectors: ['west'] })).body.id);
    }
    const waiting = await acme.api.post('/v1/tasks', { type: 'echo', payload: { message: 'late' }, selectors: ['west'], queueTimeoutSeconds: 1 });
    expect(waiting.body.state).toBe('queued');
    const ended = await acme.api.get(`/v1/tasks/${waiting.body.id}?waitSeconds=10`);
    expect(ended.body.state).toBe('expired');
    expect(ended.body.error.code).toBe('NO_ELIGIBLE_DELEGATE');
    const west = ended.body.error.details.delegates.find((d: any) => d.name === 'west');
    expect(west.reasons.join(' ')).toMatch(/full \(2\/2/);
    for (const id of blockers) await acme.api.post(`/v1/tasks/${id}/cancel`);
  });

  it('cancels a running task on its delegate', async () => {
    const created = await acme.api.post('/v1/tasks', { type: 'echo', payload: { message: 'long', delayMs: 30_000 }, selectors: ['east'] });
    let state = created.body.state;
    for (let i = 0; i < 50 && state !== 'running'; i++) {
      await new Promise((r) => setTimeout(r, 50));
      state = (await acme.api.get(`/v1/tasks/${created.body.id}`)).body.state;
    }
    expect(state).toBe('running');
    const cancelled = await acme.api.post(`/v1/tasks/${created.body.id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.state).toBe('cancelled');
    // The delegate stops the run and frees its slot: its in-flight count returns to 0.
    let inFlight = -1;
    for (let i = 0; i < 60 && inFlight !== 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      inFlight = (await acme.api.get('/v1/delegates')).body.items.find((d: any) => d.name === 'east').inFlight;
    }
    expect(inFlight).toBe(0);
    const again = await acme.api.post(`/v1/tasks/${created.body.id}/cancel`);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('CONFLICT');
  });

  it("never routes tenant B's task to tenant A's delegates, and A cannot see B's tasks", async () => {
    const listing = (await acme.api.get('/v1/delegates')).body.items as any[];
    const acmeIds = new Set(listing.map((d) => d.id));
    for (let i = 0; i < 5; i++) {
      const t = await run(other, { payload: { message: `b${i}` }, selectors: ['us-east'] });
      expect(t.state).toBe('succeeded');
      expect(acmeIds.has(t.delegateId)).toBe(false);
      const peek = await acme.api.get(`/v1/tasks/${t.id}`);
      expect(peek.status).toBe(404);
      const cancel = await acme.api.post(`/v1/tasks/${t.id}/cancel`);
      expect(cancel.status).toBe(404);
    }
    const acmeList = await acme.api.get('/v1/tasks?limit=500');
    expect(acmeList.body.items.length).toBeGreaterThan(0);
    expect(acmeList.body.items.filter((t: any) => /^b\d$/.test(t.payload.message ?? ''))).toEqual([]);
  });

  it('serves Prometheus metrics without tenant labels', async () => {
    const res = await fetch(`${cp.httpUrl}/metrics`);
    const text = await res.text();
    expect(res.status).toBe(200);
    expect(text).toMatch(/attache_tasks\{type="echo",state="succeeded"\} \d+/);
    expect(text).toMatch(/attache_delegates\{status="connected",transport="grpc"\} 3/);
    expect(text).toContain('attache_dispatch_latency_seconds_bucket');
    expect(text).toContain('attache_queue_depth');
    expect(text).not.toContain(acme.id);
    expect(text).not.toMatch(/\{[^}]*tenant[^}]*\}/);
  });
});
