import { create, toBinary } from '@bufbuild/protobuf';
import { echo } from '@attache/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTenant, createToken, eventually, startDelegate, startControlPlane, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { jsonLines, type Proc } from './support/process.js';
import { ScriptedDelegate } from './support/scripted-delegate.js';

/**
 * Frames lost in transit while the connection itself survives (a NATS message dropped during a
 * nats-server restart, a proxy that swallows a WebSocket message). The connection stays up and
 * heartbeats keep the lease alive, so only the held list in each Heartbeat can tell the control
 * plane that a Result never arrived. The delegate here is scripted over a real gRPC connection.
 */
describe('lost frames: heartbeats reconcile what the delegate holds', () => {
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let token: string;
  const scripted: ScriptedDelegate[] = [];
  const procs: Proc[] = [];
  let n = 0;

  beforeAll(async () => {
    // Heartbeats every 200 ms: a task of a few seconds is compared with many of them.
    cp = await startControlPlane({ ATTACHE_HEARTBEAT_INTERVAL_MS: '200', ATTACHE_HEARTBEAT_TIMEOUT_MS: '15000' });
    tenant = await createTenant(cp, 'lost-frames');
    token = (await createToken(tenant)).token;
  });
  afterEach(async () => {
    for (const s of scripted.splice(0)) s.close();
    await Promise.all(procs.splice(0).map((p) => p.stop(2_000)));
  });
  afterAll(async () => {
    await cp?.stop();
  });

  const task = (id: string) => tenant.api.get(`/v1/tasks/${id}`).then((r) => r.body);
  /** Waits for a control-plane log line: logs reach the test a little after the API answers. */
  const logged = (match: (l: Record<string, unknown>) => boolean, what: string) =>
    eventually(async () => (jsonLines(cp.proc).some(match) ? true : undefined), 5_000, `the control plane to log ${what}`);

  /** A scripted delegate that has accepted one task (state running, attempt 1) and sent nothing else. */
  async function runningOnScripted(message: string) {
    const name = `scripted-${++n}`;
    const d = new ScriptedDelegate(cp.grpcUrl, token);
    scripted.push(d);
    await d.register(name);
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message }, selectors: [name] });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const assign = await d.next((f) => f.frame.case === 'assign' && f.frame.value.taskId === id);
    expect(assign.frame.value).toMatchObject({ taskId: id, attempt: 1 });
    d.send({ case: 'accepted', value: { taskId: id, attempt: 1 } });
    await eventually(async () => ((await task(id)).state === 'running' ? true : undefined), 10_000, 'the task to run');
    return { d, id, name };
  }

  it('an accepted attempt missing from a heartbeat lost its Result: it is requeued and finishes elsewhere as attempt 2', async () => {
    const { d, id } = await runningOnScripted('result lost in transit');
    // Heartbeats that list it keep it where it is.
    d.send({ case: 'heartbeat', value: { inFlight: 1, held: [{ taskId: id, attempt: 1 }], listsHeld: true } });
    d.send({ case: 'heartbeat', value: { inFlight: 1, held: [{ taskId: id, attempt: 1 }], listsHeld: true } });
    await new Promise((r) => setTimeout(r, 300));
    expect(await task(id)).toMatchObject({ state: 'running', attempt: 1 });

    // The Result went missing: the next heartbeat no longer lists the task.
    d.send({ case: 'heartbeat', value: { inFlight: 0, held: [], listsHeld: true } });
    const requeued = await eventually(async () => {
      const t = await task(id);
      return t.attempt === 2 ? t : undefined;
    }, 5_000, 'attempt 2');
    expect(['queued', 'assigned']).toContain(requeued.state);
    await logged((l) => l['msg'] === 'task attempt lost' && l['taskId'] === id && /no longer holds/.test(String(l['reason'])), 'the lost attempt');

    // The scripted delegate keeps its slot: attempt 2 comes back to it (its only eligible delegate)
    // and, this time, its Result arrives.
    const again = await d.next((f) => f.frame.case === 'assign' && f.frame.value.taskId === id && f.frame.value.attempt === 2);
    expect(again.frame.case).toBe('assign');
    d.send({ case: 'accepted', value: { taskId: id, attempt: 2 } });
    const bytes = toBinary(echo.EchoResultSchema, create(echo.EchoResultSchema, { message: 'result lost in transit' }));
    // The lost attempt-1 Result turns up late, after attempt 2 was handed to the same delegate: it is
    // ignored, and must not make the control plane forget that the delegate holds attempt 2.
    const stale = toBinary(echo.EchoResultSchema, create(echo.EchoResultSchema, { message: 'stale attempt 1' }));
    d.send({ case: 'result', value: { taskId: id, attempt: 1, outcome: { case: 'success', value: stale } } });
    d.send({ case: 'result', value: { taskId: id, attempt: 2, outcome: { case: 'success', value: bytes } } });
    const done = await tenant.api.get(`/v1/tasks/${id}?waitSeconds=10`);
    expect(done.body).toMatchObject({ state: 'succeeded', attempt: 2, result: { message: 'result lost in transit' } });
    await logged((l) => l['taskId'] === id && l['attempt'] === 1 && /ignored a result/.test(String(l['msg'])), 'the stale result ignored');
  });

  it('a delegate that reconnects before its old connection is noticed gone keeps its task and its presence', async () => {
    const { d, id, name } = await runningOnScripted('replaced connection');
    const delegateId = (await task(id)).delegateId;
    // The same process on a new connection, listing the task it still runs; the old stream looks alive.
    const again = new ScriptedDelegate(cp.grpcUrl, token);
    scripted.push(again);
    await again.register(name, { inFlight: [{ taskId: id, attempt: 1 }] });
    const bye = await d.next((f) => f.frame.case === 'goodbye');
    expect(bye.frame.case === 'goodbye' && bye.frame.value.code).toBe('REPLACED');

    // The replaced connection requeued nothing and did not mark the delegate disconnected.
    expect(await task(id)).toMatchObject({ state: 'running', attempt: 1, delegateId });
    const listed = (await tenant.api.get('/v1/delegates')).body.items.filter((x: any) => x.id === delegateId);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ status: 'connected' });
    expect(again.received.some((f) => f.frame.case === 'cancel')).toBe(false);
    await logged((l) => l['msg'] === 'a newer connection of this delegate took over; its tasks stay with it' && l['delegateId'] === delegateId, 'the handover');

    // The new connection finishes attempt 1.
    const bytes = toBinary(echo.EchoResultSchema, create(echo.EchoResultSchema, { message: 'replaced connection' }));
    again.send({ case: 'result', value: { taskId: id, attempt: 1, outcome: { case: 'success', value: bytes } } });
    const done = await tenant.api.get(`/v1/tasks/${id}?waitSeconds=10`);
    expect(done.body).toMatchObject({ state: 'succeeded', attempt: 1, result: { message: 'replaced connection' } });
  });

  it('a heartbeat without the held list (an older delegate) changes nothing', async () => {
    const { d, id } = await runningOnScripted('old delegate');
    d.send({ case: 'heartbeat', value: { inFlight: 0 } });
    d.send({ case: 'heartbeat', value: { inFlight: 0, held: [], listsHeld: false } });
    await new Promise((r) => setTimeout(r, 500));
    expect(await task(id)).toMatchObject({ state: 'running', attempt: 1 });
  });

  it('an attempt the delegate lists but does not hold is cancelled on the delegate', async () => {
    const { d, id } = await runningOnScripted('stale attempt');
    // It claims an attempt it was never given, and a task that is not its own at all.
    d.send({
      case: 'heartbeat',
      value: { inFlight: 2, held: [{ taskId: id, attempt: 1 }, { taskId: 'tsk_not_assigned_here', attempt: 3 }], listsHeld: true },
    });
    const cancel = await d.next((f) => f.frame.case === 'cancel' && f.frame.value.taskId === 'tsk_not_assigned_here');
    expect(cancel.frame.value).toMatchObject({ taskId: 'tsk_not_assigned_here', attempt: 3 });
    expect(cancel.frame.case === 'cancel' && cancel.frame.value.reason).toMatch(/no longer assigned/);
    // The attempt it does hold is untouched, and was not cancelled.
    expect(d.received.some((f) => f.frame.case === 'cancel' && f.frame.value.taskId === id)).toBe(false);
    expect(await task(id)).toMatchObject({ state: 'running', attempt: 1 });
  });

  it('a heartbeat with an oversized or malformed held list closes the connection with a reason', async () => {
    const d = new ScriptedDelegate(cp.grpcUrl, token);
    scripted.push(d);
    await d.register(`scripted-${++n}`);
    d.send({ case: 'heartbeat', value: { inFlight: 0, held: [{ taskId: '', attempt: 1 }], listsHeld: true } });
    const bye = await d.next((f) => f.frame.case === 'goodbye');
    expect(bye.frame.case === 'goodbye' && bye.frame.value).toMatchObject({ code: 'PROTOCOL_ERROR' });
    expect(bye.frame.case === 'goodbye' && bye.frame.value.reason).toMatch(/Heartbeat with an invalid task_id/);

    const big = new ScriptedDelegate(cp.grpcUrl, token);
    scripted.push(big);
    await big.register(`scripted-${++n}`);
    const held = Array.from({ length: 1001 }, (_, i) => ({ taskId: `tsk_${i}`, attempt: 1 }));
    big.send({ case: 'heartbeat', value: { inFlight: 0, held, listsHeld: true } });
    const bigBye = await big.next((f) => f.frame.case === 'goodbye');
    expect(bigBye.frame.case === 'goodbye' && bigBye.frame.value.reason).toMatch(/more than 1000 held tasks/);
  });

  it('a real delegate lists what it runs: a long task keeps attempt 1 across many heartbeats', async () => {
    const real = await startDelegate(tenant, { url: cp.grpcUrl, token, name: `real-${++n}`, tags: ['long'] });
    procs.push(real);
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'long', delayMs: 2_500 }, selectors: ['long'] });
    const done = await tenant.api.get(`/v1/tasks/${created.body.id}?waitSeconds=20`);
    expect(done.body).toMatchObject({ state: 'succeeded', attempt: 1 });
    // Heartbeats came every 200 ms while it ran: each listed the task, or it would have been requeued.
    const beats = jsonLines(cp.proc).filter((l) => l['msg'] === 'task attempt lost' && l['taskId'] === created.body.id);
    expect(beats).toEqual([]);
  });
});
