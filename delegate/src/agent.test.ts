import { create, fromBinary, toBinary, type MessageInitShape } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { Writable } from 'node:stream';
import {
  ControlFrameSchema,
  delegateServiceDefinition,
  echo,
  type ControlFrame,
  type DelegateFrame,
} from '@attache/proto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent, type AgentOptions } from './agent.js';
import { echoExecutor } from './executors/echo.js';
import type { Executor } from './executors/executor.js';
import { TaskFailure } from './executors/task-failure.js';
import { startHealthServer } from './health-server.js';
import { createLogger } from './log.js';
import { ENDED_SCOPE_RETENTION_MS, MASK, Masker } from './masking.js';

/**
 * A stand-in control plane at the unit seam: a real grpc-js server speaking the real service
 * definition, scripted by each test. End-to-end tests run against the real control plane.
 */
type FrameCase = NonNullable<DelegateFrame['frame']['case']>;
type FrameOf<C extends FrameCase> = Extract<DelegateFrame['frame'], { case: C }>['value'];

class StubConnection {
  readonly frames: DelegateFrame[] = [];
  private readonly waiters = new Set<() => void>();
  ended = false;
  private cursor = 0;

  constructor(readonly call: grpc.ServerDuplexStream<DelegateFrame, ControlFrame>) {
    call.on('data', (frame: DelegateFrame) => {
      this.frames.push(frame);
      this.notify();
    });
    // A client half-close is answered by ending the stream, as the real control plane does.
    call.on('end', () => {
      this.ended = true;
      if (!call.writableEnded) call.end();
      this.notify();
    });
    call.on('error', () => {
      this.ended = true;
      this.notify();
    });
    call.on('cancelled', () => {
      this.ended = true;
      this.notify();
    });
  }

  get token(): string | undefined {
    return this.call.metadata.get('authorization')[0]?.toString();
  }

  /** The next frame of `kind` after the last one taken (frames of other kinds are skipped over). */
  async next<C extends FrameCase>(kind: C, timeoutMs = 5_000): Promise<FrameOf<C>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      while (this.cursor < this.frames.length) {
        const frame = this.frames[this.cursor++]!;
        if (frame.frame.case === kind) return frame.frame.value as FrameOf<C>;
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`no ${kind} frame within ${timeoutMs} ms`);
      await this.changed(remaining);
    }
  }

  all<C extends FrameCase>(kind: C): FrameOf<C>[] {
    return this.frames.filter((f) => f.frame.case === kind).map((f) => f.frame.value as FrameOf<C>);
  }

  send(frame: MessageInitShape<typeof ControlFrameSchema>['frame']): void {
    this.call.write(create(ControlFrameSchema, { frame }));
  }

  welcome(heartbeatIntervalMs = 100): void {
    this.send({ case: 'welcome', value: { delegateId: 'dlg-1', tenantId: 'tnt-1', heartbeatIntervalMs, heartbeatTimeoutMs: 3 * heartbeatIntervalMs } });
  }

  assignEcho(taskId: string, message: string, delayMs = 0, deadlineUnixMs = BigInt(Date.now() + 60_000), attempt = 1): void {
    const payload = toBinary(echo.EchoPayloadSchema, create(echo.EchoPayloadSchema, { message, delayMs }));
    this.send({ case: 'assign', value: { taskId, attempt, type: 'echo', payload, deadlineUnixMs } });
  }

  async waitEnded(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error('stream did not end');
      await this.changed(remaining);
    }
  }

  private changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

class StubControlPlane {
  readonly server = new grpc.Server();
  readonly connections: StubConnection[] = [];
  /** Set to reject the next connections with a status instead of serving them. */
  rejectWith: grpc.status | undefined;
  port = 0;
  private waiters = new Set<() => void>();

  async start(): Promise<void> {
    this.server.addService(delegateServiceDefinition, {
      connect: (call: grpc.ServerDuplexStream<DelegateFrame, ControlFrame>) => {
        if (this.rejectWith !== undefined) {
          // grpc-js turns an 'error' emitted on a server stream into the call's status.
          call.emit('error', Object.assign(new Error('token rejected'), { code: this.rejectWith, details: 'token rejected' }));
          return;
        }
        this.connections.push(new StubConnection(call));
        for (const waiter of [...this.waiters]) waiter();
      },
    });
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
  }

  /** The `n`th connection (0-based), waiting for it to arrive. */
  async connection(n: number, timeoutMs = 5_000): Promise<StubConnection> {
    const deadline = Date.now() + timeoutMs;
    while (this.connections.length <= n) {
      if (Date.now() > deadline) throw new Error(`connection #${n} did not arrive`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, 50);
        this.waiters.add(done);
      });
    }
    return this.connections[n]!;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}

const TOKEN = 'dlg_tok_0123456789abcdef';

const slowUntilAborted: Executor = {
  type: 'ignores-nothing',
  run: (_payload, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))),
};

const leakyFailure: Executor = {
  type: 'leaky',
  async run(payload, ctx) {
    const secret = Buffer.from(payload).toString();
    ctx.registerSecret(secret);
    throw new TaskFailure('INVALID_CREDENTIALS', `The key ${secret} was rejected.`, { key: secret, base64: Buffer.from(secret).toString('base64') });
  },
};

const crashing: Executor = {
  type: 'crash',
  async run() {
    throw new TypeError(`cannot read properties of undefined (token ${TOKEN})`);
  },
};

/** An agent of the stub control plane's tests (not started), stopped by the test's afterEach through `agents`. */
function stubAgent(cp: StubControlPlane, agents: Agent[], options: Partial<AgentOptions>): Agent {
  const masker = new Masker();
  const agent = new Agent({
    url: `grpc://127.0.0.1:${cp.port}`,
    token: TOKEN,
    name: 'vpc-east',
    logger: createLogger({ masker, level: 'silent' }),
    masker,
    backoff: { baseMs: 20, capMs: 50 },
    ...options,
  });
  agents.push(agent);
  return agent;
}

describe('Agent against a stub control plane', () => {
  let cp: StubControlPlane;
  const agents: Agent[] = [];

  beforeEach(async () => {
    cp = new StubControlPlane();
    await cp.start();
  });

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    cp.stop();
  });

  function makeAgent(overrides: Partial<AgentOptions> = {}): Agent {
    return stubAgent(cp, agents, { tags: ['aws', 'prod'], maxConcurrency: 4, executors: [echoExecutor, slowUntilAborted, leakyFailure, crashing], ...overrides });
  }

  it('says Hello with its identity and token, then heartbeats after Welcome', async () => {
    const agent = makeAgent({ version: '9.9.9' });
    expect(agent.state).toBe('idle');
    agent.start();
    const conn = await cp.connection(0);
    const hello = await conn.next('hello');
    expect(conn.token).toBe(`Bearer ${TOKEN}`);
    expect(hello).toMatchObject({
      name: 'vpc-east',
      instanceId: agent.instanceId,
      tags: ['vpc-east', 'aws', 'prod'],
      taskTypes: ['crash', 'echo', 'ignores-nothing', 'leaky'],
      maxConcurrency: 4,
      version: '9.9.9',
      inFlight: [],
    });
    expect(agent.instanceId).toMatch(/^[0-9a-f-]{36}$/);
    expect(agent.state).toBe('connecting');
    expect(agent.connected).toBe(false);

    conn.welcome(50);
    await agent.waitFor('registered');
    expect(agent.connected).toBe(true);
    expect(agent.registration).toMatchObject({ delegateId: 'dlg-1', tenantId: 'tnt-1', heartbeatIntervalMs: 50 });
    const first = await conn.next('heartbeat');
    const second = await conn.next('heartbeat');
    expect(first.inFlight).toBe(0);
    expect(second.inFlight).toBe(0);
  });

  it('uses the package version by default', async () => {
    makeAgent().start();
    const hello = await (await cp.connection(0)).next('hello');
    expect(hello.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('accepts an echo at once and returns its payload', async () => {
    const agent = makeAgent();
    const finished: string[] = [];
    agent.on('taskFinished', (t) => finished.push(`${t.taskId}:${t.code}`));
    agent.start();
    const conn = await cp.connection(0);
    conn.welcome();
    await agent.waitFor('registered');

    conn.assignEcho('task-1', 'hello there');
    expect(await conn.next('accepted')).toMatchObject({ taskId: 'task-1', attempt: 1 });
    const result = await conn.next('result');
    expect(result.taskId).toBe('task-1');
    expect(result.attempt).toBe(1);
    expect(result.outcome.case).toBe('success');
    expect(fromBinary(echo.EchoResultSchema, result.outcome.value as Uint8Array).message).toBe('hello there');
    // Accepted is on the wire before the Result.
    const kinds = conn.frames.map((f) => f.frame.case);
    expect(kinds.indexOf('accepted')).toBeLessThan(kinds.indexOf('result'));
    expect(finished).toEqual(['task-1:SUCCESS']);
  });

  it('reports in-flight tasks in heartbeats', async () => {
    const agent = makeAgent();
    agent.start();
    const conn = await cp.connection(0);
    conn.welcome(30);
    conn.assignEcho('task-hb', 'slow', 1_000);
    await conn.next('accepted');
    for (;;) {
      const hb = await conn.next('heartbeat');
      if (hb.inFlight === 1) break;
    }
    expect(agent.inFlight).toBe(1);
  });

  it('Cancel aborts a delayed echo and reports CANCELLED', async () => {
    const agent = makeAgent();
    agent.start();
    const conn = await cp.connection(0);
    conn.welcome();
    conn.assignEcho('task-c', 'wait', 20_000);
    await conn.next('accepted');
    const started = Date.now();
    conn.send({ case: 'cancel', value: { taskId: 'task-c', attempt: 1, reason: 'user asked' } });
    const result = await conn.next('result');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result.outcome).toMatchObject({ case: 'error', value: { code: 'CANCELLED' } });
    expect((result.outcome.value as { message: string }).message).toContain('user asked');
    expect(agent.inFlight).toBe(0);
  });

  it('aborts at the deadline and reports TIMEOUT', async () => {
    makeAgent().start();
    const conn = await cp.connection(0);
    conn.welcome();
    conn.assignEcho('task-t', 'late', 20_000, BigInt(Date.now() + 150));
    const result = await conn.next('result');
    expect(result.outcome).toMatchObject({ case: 'error', value: { code: 'TIMEOUT' } });
    expect(result.durationMs).toBeGreaterThanOrEqual(100);
    expect(result.durationMs).toBeLessThan(2_000);
  });

  it('maps unknown types, task failures and crashes to codes, masking secrets', async () => {
    makeAgent().start();
    const conn = await cp.connection(0);
    conn.welcome();
    conn.send({ case: 'assign', value: { taskId: 'u', attempt: 1, type: 'gcp.validate', payload: new Uint8Array(), deadlineUnixMs: 0n } });
    expect((await conn.next('result')).outcome).toMatchObject({ case: 'error', value: { code: 'UNSUPPORTED_TASK_TYPE' } });

    const secret = 'AKIAEXAMPLESECRET42';
    conn.send({ case: 'assign', value: { taskId: 'l', attempt: 1, type: 'leaky', payload: Buffer.from(secret), deadlineUnixMs: 0n } });
    const leaky = await conn.next('result');
    expect(leaky.outcome).toMatchObject({
      case: 'error',
      value: { code: 'INVALID_CREDENTIALS', message: 'The key *** was rejected.', details: { key: '***', base64: '***' } },
    });

    conn.send({ case: 'assign', value: { taskId: 'x', attempt: 1, type: 'crash', payload: new Uint8Array(), deadlineUnixMs: 0n } });
    const crash = await conn.next('result');
    expect(crash.outcome).toMatchObject({ case: 'error', value: { code: 'INTERNAL' } });
    const message = (crash.outcome.value as { message: string }).message;
    expect(message).toContain('TypeError');
    expect(message).not.toContain(TOKEN);
  });

  it("masks a task's secrets in every log line while it runs, keeps them for the retention time, then lets them go", async () => {
    let now = 1_000_000;
    const masker = new Masker({ now: () => now });
    const lines: string[] = [];
    const processLog = createLogger({
      masker,
      level: 'info',
      destination: new Writable({
        write(chunk: Buffer, _enc, cb) {
          lines.push(chunk.toString());
          cb();
        },
      }),
    });
    let registered!: () => void;
    const isRegistered = new Promise<void>((resolve) => (registered = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const holder: Executor = {
      type: 'holder',
      async run(payload, ctx) {
        ctx.registerSecret(Buffer.from(payload).toString());
        registered();
        await released;
        return new Uint8Array([1]);
      },
    };
    makeAgent({ executors: [holder], masker, logger: createLogger({ masker, level: 'silent' }) }).start();
    const conn = await cp.connection(0);
    conn.welcome();
    const secret = 'ASIA-assumed-role-secret-0042';
    conn.send({ case: 'assign', value: { taskId: 'h', attempt: 1, type: 'holder', payload: Buffer.from(secret), deadlineUnixMs: 0n } });
    await isRegistered;
    // A carrier or SDK line knows no task, and is masked all the same.
    processLog.warn(`socket reset while sending ${secret}`);
    expect(lines[0]).toContain(`sending ${MASK}`);
    release();
    expect((await conn.next('result')).outcome.case).toBe('success');

    now += ENDED_SCOPE_RETENTION_MS - 1;
    expect(masker.mask(secret)).toBe(MASK);
    now += 1;
    expect(masker.mask(secret)).toBe(secret);
    expect(masker.mask(TOKEN)).toBe(MASK);
  });

  it('reconnects with a new Hello when the server ends the stream, and delivers results held meanwhile', async () => {
    const agent = makeAgent();
    const states: string[] = [];
    agent.on('state', (s) => states.push(s));
    agent.start();
    const first = await cp.connection(0);
    await first.next('hello');
    first.welcome();
    await agent.waitFor('registered');
    first.assignEcho('task-r', 'survives', 300);
    await first.next('accepted');

    first.call.end();
    const second = await cp.connection(1);
    const hello = await second.next('hello');
    expect(hello.instanceId).toBe(agent.instanceId);
    expect(hello.inFlight).toEqual([expect.objectContaining({ taskId: 'task-r', attempt: 1 })]);
    expect(states).toContain('reconnecting');

    // The task finishes before the new Welcome; its result must wait for it.
    await new Promise((r) => setTimeout(r, 400));
    expect(second.all('result')).toHaveLength(0);
    second.welcome();
    const result = await second.next('result');
    expect(result).toMatchObject({ taskId: 'task-r', attempt: 1, outcome: { case: 'success' } });
    expect(agent.state).toBe('registered');
  });

  it('rotates through its URLs on each failed connect and each lost connection', async () => {
    const other = new StubControlPlane();
    await other.start();
    try {
      cp.rejectWith = grpc.status.UNAVAILABLE;
      const agent = makeAgent({ url: [`grpc://127.0.0.1:${cp.port}`, `grpc://127.0.0.1:${other.port}`] });
      agent.start();
      // The first URL refuses the connect: the next attempt goes to the second.
      const onOther = await other.connection(0);
      await onOther.next('hello');
      onOther.welcome();
      await agent.waitFor('registered');
      expect(cp.connections).toHaveLength(0);

      // Losing the second one moves back to the first, which now serves.
      cp.rejectWith = undefined;
      onOther.call.end();
      const onFirst = await cp.connection(0);
      await onFirst.next('hello');
      onFirst.welcome();
      await agent.waitFor('registered');
      expect(other.connections).toHaveLength(1);
    } finally {
      other.stop();
    }
  });

  it('drops a connection that gets no Welcome and tries again', async () => {
    makeAgent({ welcomeTimeoutMs: 200 }).start();
    const first = await cp.connection(0);
    await first.next('hello');
    const second = await cp.connection(1, 3_000);
    await second.next('hello');
    await first.waitEnded();
  });

  it('stops for good on Goodbye TOKEN_REVOKED', async () => {
    const agent = makeAgent();
    agent.start();
    const conn = await cp.connection(0);
    conn.welcome();
    await agent.waitFor('registered');
    conn.send({ case: 'goodbye', value: { code: 'TOKEN_REVOKED', reason: 'revoked by admin' } });
    const info = await agent.stopped;
    expect(info).toEqual({ reason: 'fatal', code: 'TOKEN_REVOKED', message: 'revoked by admin' });
    expect(agent.state).toBe('stopped');
    await new Promise((r) => setTimeout(r, 200));
    expect(cp.connections).toHaveLength(1);
  });

  it('stops for good, as misconfigured, when its name or tags are not allowed for its token', async () => {
    for (const code of ['GROUP_NOT_ALLOWED', 'TAGS_NOT_ALLOWED']) {
      const agent = makeAgent();
      agent.start();
      const conn = await cp.connection(cp.connections.length);
      await conn.next('hello');
      conn.send({ case: 'goodbye', value: { code, reason: `Delegate token tok_1 refuses this (${code}).` } });
      expect(await agent.stopped).toEqual({ reason: 'misconfigured', code, message: `Delegate token tok_1 refuses this (${code}).` });
      expect(agent.state).toBe('stopped');
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(cp.connections).toHaveLength(2);
  });

  it('reconnects after a non-fatal Goodbye', async () => {
    const agent = makeAgent();
    agent.start();
    const conn = await cp.connection(0);
    conn.welcome();
    await agent.waitFor('registered');
    conn.send({ case: 'goodbye', value: { code: 'SERVER_SHUTDOWN', reason: 'deploy' } });
    await (await cp.connection(1)).next('hello');
    expect(agent.state).not.toBe('stopped');
  });

  it('stops for good when the stream is refused with UNAUTHENTICATED', async () => {
    cp.rejectWith = grpc.status.UNAUTHENTICATED;
    const agent = makeAgent();
    agent.start();
    const info = await agent.stopped;
    expect(info).toMatchObject({ reason: 'fatal', code: 'UNAUTHENTICATED', message: 'token rejected' });
  });

  it('treats PERMISSION_DENIED as fatal too, but UNAVAILABLE as transient', async () => {
    cp.rejectWith = grpc.status.PERMISSION_DENIED;
    expect(await (makeAgent().start(), agents.at(-1)!.stopped)).toMatchObject({ reason: 'fatal', code: 'PERMISSION_DENIED' });

    cp.rejectWith = grpc.status.UNAVAILABLE;
    const agent = makeAgent();
    agent.start();
    await agent.waitFor('reconnecting');
    expect(agent.state).toBe('reconnecting');
    cp.rejectWith = undefined;
    (await cp.connection(0, 3_000)).welcome();
    await agent.waitFor('registered');
  });

  it('keeps retrying while the control plane is unreachable', async () => {
    cp.stop();
    const agent = makeAgent({ url: `grpc://127.0.0.1:${cp.port}` });
    const states: string[] = [];
    agent.on('state', (s) => states.push(s));
    agent.start();
    await agent.waitFor('reconnecting');
    await new Promise((r) => setTimeout(r, 300));
    expect(agent.state).toBe('reconnecting');
    expect(agent.connected).toBe(false);
  });

  it('drain says Draining, refuses new work, waits for the running task, then ends the stream', async () => {
    const agent = makeAgent({ drainGraceMs: 5_000 });
    agent.start();
    const conn = await cp.connection(0);
    conn.welcome();
    conn.assignEcho('task-d', 'finishing', 300);
    await conn.next('accepted');

    const drained = agent.drain('test drain');
    expect(agent.state).toBe('draining');
    expect((await conn.next('draining')).reason).toBe('test drain');
    conn.assignEcho('task-late', 'too late');
    const refused = await conn.next('result');
    expect(refused).toMatchObject({ taskId: 'task-late', outcome: { case: 'error', value: { code: 'DELEGATE_DRAINING' } } });

    const result = await conn.next('result');
    expect(result).toMatchObject({ taskId: 'task-d', outcome: { case: 'success' } });
    expect(await drained).toEqual({ reason: 'drained' });
    expect(agent.state).toBe('stopped');
    await conn.waitEnded();
  });

  it('drain cancels tasks still running when the grace period ends', async () => {
    const agent = makeAgent({ drainGraceMs: 200 });
    agent.start();
    const conn = await cp.connection(0);
    conn.welcome();
    conn.send({ case: 'assign', value: { taskId: 'stuck', attempt: 1, type: 'ignores-nothing', payload: new Uint8Array(), deadlineUnixMs: 0n } });
    await conn.next('accepted');
    const started = Date.now();
    expect(await agent.drain()).toEqual({ reason: 'drained' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(180);
    const result = conn.all('result')[0];
    expect(result).toMatchObject({ taskId: 'stuck', outcome: { case: 'error', value: { code: 'CANCELLED' } } });
  });

  it('stop() during a drain ends it at once and cancels the running task', async () => {
    const agent = makeAgent({ drainGraceMs: 20_000 });
    agent.start();
    const conn = await cp.connection(0);
    conn.welcome();
    conn.assignEcho('task-s', 'long', 20_000);
    await conn.next('accepted');
    const drained = agent.drain();
    await conn.next('draining');
    const started = Date.now();
    expect(await agent.stop()).toEqual({ reason: 'stopped' });
    expect(await drained).toEqual({ reason: 'stopped' });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(agent.inFlight).toBe(0);
  });

  it('stays draining through a reconnect while a result waits, then moves through stopping to stopped', async () => {
    const agent = makeAgent({ drainGraceMs: 5_000 });
    const states: string[] = [];
    agent.on('state', (s) => states.push(s));
    agent.start();
    const first = await cp.connection(0);
    first.welcome();
    await agent.waitFor('registered');
    first.assignEcho('task-w', 'kept', 500);
    await first.next('accepted');
    const drained = agent.drain();
    await first.next('draining');
    first.call.end();

    // The new session says Draining again after Welcome and delivers the held result; the agent
    // never becomes `registered` or `reconnecting` again while draining.
    const second = await cp.connection(1);
    second.welcome();
    expect((await second.next('draining')).reason).toBe('delegate shutting down');
    expect(await second.next('result')).toMatchObject({ taskId: 'task-w', outcome: { case: 'success' } });
    expect(await drained).toEqual({ reason: 'drained' });
    expect(states).toEqual(['connecting', 'registered', 'draining', 'stopping', 'stopped']);
  });

  it('refuses a second start() with a code, and does not leave stopped', async () => {
    const agent = makeAgent();
    agent.start();
    expect(() => agent.start()).toThrow(expect.objectContaining({ code: 'INVALID_AGENT_STATE' }));
    await agent.stop();
    expect(() => agent.start()).toThrow(expect.objectContaining({ code: 'INVALID_AGENT_STATE' }));
    expect(agent.state).toBe('stopped');
  });

  it('serves /healthz with state, connection and load', async () => {
    const agent = makeAgent();
    const health = await startHealthServer(agent, { host: '127.0.0.1', port: 0 });
    try {
      const url = `http://127.0.0.1:${health.address.port}/healthz`;
      expect(await (await fetch(url)).json()).toEqual({ state: 'idle', connected: false, inFlight: 0 });
      agent.start();
      (await cp.connection(0)).welcome();
      await agent.waitFor('registered');
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ state: 'registered', connected: true, inFlight: 0 });
      expect((await fetch(`http://127.0.0.1:${health.address.port}/other`)).status).toBe(404);
      await agent.stop();
      expect((await fetch(url)).status).toBe(503);
    } finally {
      await health.close();
    }
  });
});

describe('Agent: batched frames', () => {
  let cp: StubControlPlane;
  const agents: Agent[] = [];

  beforeEach(async () => {
    cp = new StubControlPlane();
    await cp.start();
  });

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    cp.stop();
  });

  function start(overrides: Partial<AgentOptions> = {}): Agent {
    const agent = stubAgent(cp, agents, { maxConcurrency: 8, executors: [echoExecutor], ...overrides });
    agent.start();
    return agent;
  }

  const echoAssign = (taskId: string, message: string) => ({
    taskId,
    attempt: 1,
    type: 'echo',
    payload: toBinary(echo.EchoPayloadSchema, create(echo.EchoPayloadSchema, { message })),
    deadlineUnixMs: BigInt(Date.now() + 60_000),
  });

  it('announces batches in Hello, runs each Assign of an AssignBatch, and answers in one DelegateBatch with Accepted folded into Result', async () => {
    const agent = start();
    const conn = await cp.connection(0);
    expect((await conn.next('hello')).maxBatchItems).toBe(256);
    conn.send({ case: 'welcome', value: { delegateId: 'dlg-1', tenantId: 'tnt-1', heartbeatIntervalMs: 10_000, heartbeatTimeoutMs: 30_000, maxBatchItems: 64 } });
    await agent.waitFor('registered');
    // The second Assign is a redelivery of the first: acknowledged again, never run twice.
    conn.send({ case: 'assignBatch', value: { assigns: [echoAssign('t1', 'one'), echoAssign('t1', 'one'), echoAssign('t2', 'two')] } });
    const answer = await conn.next('batch');
    expect(answer.items.map((i) => `${i.item.case}/${i.item.value?.taskId}`)).toEqual(['acceptedResult/t1', 'acceptedResult/t2']);
    const results = answer.items.map((i) => (i.item.case === 'acceptedResult' && i.item.value.outcome.case === 'success' ? fromBinary(echo.EchoResultSchema, i.item.value.outcome.value).message : ''));
    expect(results).toEqual(['one', 'two']);
    expect(conn.all('accepted')).toEqual([]);
    expect(conn.all('result')).toEqual([]);
  });

  it('refuses a batch size that is not a whole number of items, before connecting', () => {
    for (const bad of [-1, 1.5, Number.NaN]) expect(() => start({ maxBatchItems: bad })).toThrow(/maxBatchItems must be a whole number/);
  });

  it('without batches on either side sends single frames, and announces 0 when its own are off', async () => {
    const agent = start({ maxBatchItems: 0 });
    const conn = await cp.connection(0);
    expect((await conn.next('hello')).maxBatchItems).toBe(0);
    // The control plane would take batches; this delegate sends none.
    conn.send({ case: 'welcome', value: { delegateId: 'dlg-1', tenantId: 'tnt-1', heartbeatIntervalMs: 10_000, heartbeatTimeoutMs: 30_000, maxBatchItems: 64 } });
    await agent.waitFor('registered');
    conn.send({ case: 'assign', value: echoAssign('t1', 'one') });
    conn.send({ case: 'assign', value: echoAssign('t2', 'two') });
    await conn.next('result');
    await conn.next('result');
    expect(conn.all('accepted').map((a) => a.taskId)).toEqual(['t1', 't2']);
    expect(conn.all('batch')).toEqual([]);
  });

  it('drops the connection on an AssignBatch over what Hello announced, taking none of it, and reconnects', async () => {
    const agent = start({ maxBatchItems: 2 });
    const disconnected = new Promise<Error | undefined>((resolve) => agent.once('disconnected', resolve));
    const conn = await cp.connection(0);
    await conn.next('hello');
    conn.welcome(10_000);
    await agent.waitFor('registered');
    conn.send({ case: 'assignBatch', value: { assigns: [echoAssign('t1', 'a'), echoAssign('t2', 'b'), echoAssign('t3', 'c')] } });
    const error = await disconnected;
    expect(error).toMatchObject({ code: 'BATCH_TOO_LARGE' });
    await conn.waitEnded();
    expect(conn.all('accepted')).toEqual([]);
    expect(agent.inFlight).toBe(0);
    await (await cp.connection(1)).next('hello');
  });
});
