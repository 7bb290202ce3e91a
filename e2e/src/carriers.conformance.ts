import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { ControlFrameSchema, DelegateFrameSchema, delegateServiceDefinition, type ControlFrame } from '@attache/proto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  createTenant,
  createToken,
  eventually,
  spawnDelegate,
  startControlPlane,
  startDelegate,
  waitForDelegates,
  type ControlPlaneHandle,
  type TenantHandle,
} from './support/cluster.js';
import { jsonLines, type Proc } from './support/process.js';

/**
 * The delegate-carrier contract, run against real control-plane and delegate processes over one
 * carrier. Every carrier must behave the same from the outside: the protocol lives in the control
 * plane's connection handler and the delegate's agent, and this suite proves no carrier bends it.
 *
 * `name` is also the transport the delegate listing must show (grpc, websocket, nats).
 */
export interface CarrierConformanceOptions {
  /** Environment for the control plane (e.g. what a carrier needs to be served at all). */
  controlPlaneEnv?: Record<string, string>;
  /**
   * Opens a connection below the delegate (for the malformed-frame case). Defaults to the built-in
   * one for the URL's scheme; a carrier without one must pass its own.
   */
  raw?: RawClient;
}

/** A connection that sends arbitrary bytes as one frame, and reports why the control plane closed it. */
export interface RawConnection {
  send(bytes: Uint8Array): void;
  /** Resolves once closed: the Goodbye's code and reason when one came, and the carrier's own reason. */
  closed: Promise<{ goodbye?: { code: string; reason: string }; carrierReason: string }>;
  close(): void;
}

export type RawClient = (url: string, token: string) => RawConnection;

export function runCarrierConformance(name: string, urlFor: (cp: ControlPlaneHandle) => string, options: CarrierConformanceOptions = {}): void {
  describe(`carrier conformance: ${name}`, () => {
    let cp: ControlPlaneHandle;
    let tenant: TenantHandle;
    let token: { id: string; token: string };
    let url: string;
    let procs: Proc[] = [];
    let n = 0;

    beforeAll(async () => {
      cp = await startControlPlane(options.controlPlaneEnv);
      tenant = await createTenant(cp, `conformance-${name}`);
      url = urlFor(cp);
    });

    afterEach(async () => {
      // A frozen delegate must be thawed before it can be asked to stop.
      for (const p of procs) p.kill('SIGCONT');
      await Promise.all(procs.map((p) => p.stop(2_000)));
      procs = [];
    });

    afterAll(async () => {
      await cp?.stop();
    });

    /** A fresh token and a unique delegate name per test, so tests cannot see each other's work. */
    const delegate = async (label: string, opts: { tags?: string[]; wait?: boolean } = {}) => {
      token ??= await createToken(tenant, `${name}-shared`);
      const delegateName = `${label}-${++n}`;
      const spec = { url, token: token.token, name: delegateName, tags: opts.tags ?? [] };
      const proc = opts.wait === false ? spawnDelegate(spec) : await startDelegate(tenant, spec);
      procs.push(proc);
      return { proc, name: delegateName };
    };
    const task = (id: string) => tenant.api.get(`/v1/tasks/${id}`).then((r) => r.body);
    const echo = (selectors: string[], message: string, delayMs = 0) =>
      tenant.api.post('/v1/tasks', { type: 'echo', payload: { message, delayMs }, selectors }).then((r) => {
        expect(r.status).toBe(201);
        return r.body.id as string;
      });
    const waitRunning = (id: string) =>
      eventually(async () => ((await task(id)).state === 'running' ? true : undefined), 10_000, `task ${id} running`);
    const logs = (proc: Proc) => jsonLines(proc);

    it('connects and registers; the listing shows the transport', async () => {
      const d = await delegate('reg', { tags: ['conf'] });
      const [listed] = await waitForDelegates(tenant, d.name);
      expect(listed).toMatchObject({ name: d.name, status: 'connected', transport: name });
      expect(listed.tags).toEqual(expect.arrayContaining([d.name, 'conf']));
    });

    it('assigns a task and returns its result', async () => {
      const d = await delegate('echo');
      const id = await echo([d.name], `hello over ${name}`);
      const done = await tenant.api.get(`/v1/tasks/${id}?waitSeconds=20`);
      expect(done.body).toMatchObject({ state: 'succeeded', attempt: 1, result: { message: `hello over ${name}` } });
      expect(done.body.delegateId).toBe((await waitForDelegates(tenant, d.name))[0].id);
    });

    it('a cancel reaches the delegate, which stops the run', async () => {
      const d = await delegate('cancel');
      const id = await echo([d.name], 'long', 30_000);
      await waitRunning(id);
      const cancelled = await tenant.api.post(`/v1/tasks/${id}/cancel`);
      expect(cancelled.body.state).toBe('cancelled');
      await eventually(
        async () => logs(d.proc).some((l) => l['taskId'] === id && l['msg'] === 'task cancelled by the control plane') || undefined,
        10_000,
        'the delegate to see the Cancel',
      );
      await eventually(
        async () => logs(d.proc).some((l) => l['taskId'] === id && l['msg'] === 'task finished' && l['code'] === 'CANCELLED') || undefined,
        10_000,
        'the run to end CANCELLED',
      );
    });

    it('heartbeat loss: a frozen delegate loses its task, which finishes elsewhere as attempt 2', async () => {
      const tag = `hb-${name}`;
      const frozen = await delegate('frozen', { tags: [tag] });
      const id = await echo([tag], 'survive the freeze', 2_000);
      await waitRunning(id);
      const frozenId = (await task(id)).delegateId;
      frozen.proc.kill('SIGSTOP');
      await delegate('healthy', { tags: [tag] });
      const done = await tenant.api.get(`/v1/tasks/${id}?waitSeconds=30`);
      expect(done.body).toMatchObject({ state: 'succeeded', attempt: 2, result: { message: 'survive the freeze' } });
      expect(done.body.delegateId).not.toBe(frozenId);
    });

    it('revoking the token closes the live connection at once; the delegate exits 3', async () => {
      const own = await createToken(tenant, `${name}-revoke-${++n}`);
      const victimName = `victim-${n}`;
      const victim = spawnDelegate({ url, token: own.token, name: victimName });
      procs.push(victim);
      await waitForDelegates(tenant, victimName);
      const revokedAt = Date.now();
      expect((await tenant.api.post(`/v1/delegate-tokens/${own.id}/revoke`)).status).toBe(200);
      const exit = await Promise.race([victim.exited, new Promise<null>((r) => setTimeout(() => r(null), 5_000))]);
      expect(exit?.code).toBe(3);
      expect(Date.now() - revokedAt).toBeLessThan(5_000);
      expect(victim.lines.join('\n')).toMatch(/TOKEN_REVOKED/);
    });

    it('suspending the tenant closes its live connection with TENANT_SUSPENDED and refuses it again; the delegate exits 3', async () => {
      const suspended = await createTenant(cp, `conformance-${name}-suspend-${++n}`);
      const own = await createToken(suspended, `${name}-suspend`);
      const delegateName = `suspended-${n}`;
      const live = spawnDelegate({ url, token: own.token, name: delegateName });
      procs.push(live);
      await waitForDelegates(suspended, delegateName);
      const suspendedAt = Date.now();
      expect((await cp.operator.post(`/v1/tenants/${suspended.id}/suspend`)).status).toBe(200);
      const exit = await Promise.race([live.exited, new Promise<null>((r) => setTimeout(() => r(null), 20_000))]);
      expect(exit?.code).toBe(3);
      expect(live.lines.join('\n')).toMatch(/TENANT_SUSPENDED/);
      expect(Date.now() - suspendedAt).toBeLessThan(20_000);
      // A new connection is refused at its first step, with the same code.
      const again = spawnDelegate({ url, token: own.token, name: delegateName });
      procs.push(again);
      const refused = await Promise.race([again.exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
      expect(refused?.code).toBe(3);
      expect(again.lines.join('\n')).toMatch(/TENANT_SUSPENDED/);
      // Resumed, the same token connects again.
      expect((await cp.operator.post(`/v1/tenants/${suspended.id}/resume`)).status).toBe(200);
      const back = spawnDelegate({ url, token: own.token, name: delegateName });
      procs.push(back);
      await waitForDelegates(suspended, delegateName);
    });

    it('an unknown token is refused with a reason; the delegate exits 3 without retrying', async () => {
      const refused = spawnDelegate({ url, token: 'atd_not_a_real_token_0000000000000000', name: `stranger-${++n}` });
      procs.push(refused);
      const exit = await Promise.race([refused.exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
      expect(exit?.code).toBe(3);
      expect(refused.lines.join('\n')).toMatch(/unknown or revoked/);
    });

    it('SIGTERM drains: the running task finishes and the delegate exits 0', async () => {
      const d = await delegate('drain');
      const id = await echo([d.name], 'finish me', 1_500);
      await waitRunning(id);
      d.proc.kill('SIGTERM');
      const done = await tenant.api.get(`/v1/tasks/${id}?waitSeconds=20`);
      expect(done.body).toMatchObject({ state: 'succeeded', attempt: 1, result: { message: 'finish me' } });
      expect((await d.proc.exited).code).toBe(0);
      const listed = (await tenant.api.get('/v1/delegates')).body.items.find((x: any) => x.name === d.name);
      expect(listed.status).toBe('disconnected');
    });

    it('a malformed frame closes that connection with a reason; the control plane keeps serving', async () => {
      token ??= await createToken(tenant, `${name}-shared`);
      const raw = (options.raw ?? rawClientFor(url))(url, token.token);
      raw.send(helloBytes(`raw-${++n}`));
      // Wire type 7 does not exist: no protobuf decoder can read this as a DelegateFrame.
      raw.send(Uint8Array.from([0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]));
      const closed = await Promise.race([raw.closed, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
      raw.close();
      expect(closed).not.toBeNull();
      const reason = closed!.goodbye ? `${closed!.goodbye.code}: ${closed!.goodbye.reason}` : closed!.carrierReason;
      expect(reason).toMatch(/PROTOCOL_ERROR|deserializ/i);
      expect(cp.proc.running).toBe(true);

      const d = await delegate('after-garbage');
      const id = await echo([d.name], 'still serving');
      expect((await tenant.api.get(`/v1/tasks/${id}?waitSeconds=20`)).body.state).toBe('succeeded');
    });
  });
}

/** Built-in raw clients for the carriers this repository serves; others pass `options.raw`. */
export function rawClientFor(url: string): RawClient {
  const scheme = new URL(url).protocol;
  if (scheme === 'grpc:') return rawGrpc;
  if (scheme === 'ws:') return rawWebSocket;
  throw new Error(`no raw client for ${scheme}//; pass options.raw to runCarrierConformance`);
}

function goodbyeOf(frame: ControlFrame): { code: string; reason: string } | undefined {
  return frame.frame.case === 'goodbye' ? { code: frame.frame.value.code, reason: frame.frame.value.reason } : undefined;
}

/** A gRPC Connect stream whose request serialiser passes bytes through untouched. */
const rawGrpc: RawClient = (url, token) => {
  const client = new grpc.Client(new URL(url).host, grpc.credentials.createInsecure());
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${token}`);
  const call = client.makeBidiStreamRequest<Uint8Array, ControlFrame>(
    delegateServiceDefinition.connect.path,
    (bytes) => Buffer.from(bytes),
    (buf) => fromBinary(ControlFrameSchema, buf),
    metadata,
  );
  let goodbye: { code: string; reason: string } | undefined;
  call.on('data', (frame: ControlFrame) => (goodbye ??= goodbyeOf(frame)));
  call.on('error', () => undefined);
  const closed = new Promise<{ goodbye?: { code: string; reason: string }; carrierReason: string }>((resolve) =>
    call.on('status', (status: grpc.StatusObject) =>
      resolve({ ...(goodbye ? { goodbye } : {}), carrierReason: `${grpc.status[status.code]}: ${status.details}` }),
    ),
  );
  return {
    send: (bytes) => call.write(bytes),
    closed,
    close: () => {
      call.cancel();
      client.close();
    },
  };
};

/** A WebSocket at the delegate path that sends the bytes as one binary message. */
const rawWebSocket: RawClient = (url, token) => {
  const target = new URL(url);
  if (target.pathname === '/') target.pathname = '/v1/delegate/connect';
  const socket = new WebSocket(target, { headers: { authorization: `Bearer ${token}` } });
  let goodbye: { code: string; reason: string } | undefined;
  const pending: Uint8Array[] = [];
  socket.on('open', () => {
    for (const bytes of pending.splice(0)) socket.send(bytes, { binary: true });
  });
  socket.on('message', (data: Buffer) => (goodbye ??= goodbyeOf(fromBinary(ControlFrameSchema, data))));
  socket.on('error', () => undefined);
  const closed = new Promise<{ goodbye?: { code: string; reason: string }; carrierReason: string }>((resolve) =>
    socket.on('close', (code, reason) => resolve({ ...(goodbye ? { goodbye } : {}), carrierReason: `${code} ${reason.toString('utf8')}` })),
  );
  return {
    send: (bytes) => (socket.readyState === WebSocket.OPEN ? socket.send(bytes, { binary: true }) : pending.push(bytes)),
    closed,
    close: () => socket.terminate(),
  };
};

/** A well-formed Hello: the garbage then arrives on a connection that is (about to be) registered. */
function helloBytes(name: string): Uint8Array {
  return toBinary(
    DelegateFrameSchema,
    create(DelegateFrameSchema, {
      frame: { case: 'hello', value: { name, instanceId: `raw-${name}`, tags: [name], taskTypes: ['echo'], maxConcurrency: 1, version: '0.0.0' } },
    }),
  );
}
