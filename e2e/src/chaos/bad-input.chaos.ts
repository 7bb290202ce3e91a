import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { fromBinary } from '@bufbuild/protobuf';
import { CONNECT_METHOD_PATH, ControlFrameSchema, DelegateFrameSchema, MAX_FRAME_BYTES } from '@attache/proto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTenant, createToken, startControlPlane, type ControlPlaneHandle, type TenantHandle } from '../support/cluster.js';

/**
 * Malformed input on both doors: generated bad bodies against every API route, and garbage,
 * truncated and oversized frames on the gRPC carrier with a valid token. The control plane must
 * answer every request with a 4xx (never a 5xx, never a dropped connection), close every bad
 * stream with a status and a reason, and still answer /healthz afterwards.
 */
const BODIES = Number(process.env['CHAOS_BAD_BODIES'] ?? 1_200);
const FRAMES = Number(process.env['CHAOS_BAD_FRAMES'] ?? 200);

let cp: ControlPlaneHandle;
let tenant: TenantHandle;
let token: string;
beforeAll(async () => {
  cp = await startControlPlane({ ATTACHE_API_RATE_LIMIT: '1000000' });
  tenant = await createTenant(cp, 'bad-input');
  token = (await createToken(tenant, 'bad')).token;
});
afterAll(async () => {
  await cp?.stop();
});

/** Deterministic, so a failure reproduces: mulberry32. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every route that takes input. GET routes that read no query string take no input to spoil. */
const ROUTES: Array<{ method: string; path: string; operator?: boolean }> = [
  { method: 'POST', path: '/v1/tenants', operator: true },
  { method: 'POST', path: '/v1/delegate-tokens' },
  { method: 'POST', path: '/v1/delegate-tokens/tok_x/revoke' },
  { method: 'POST', path: '/v1/tasks' },
  { method: 'GET', path: '/v1/tasks' },
  { method: 'GET', path: '/v1/tasks/tsk_x' },
  { method: 'POST', path: '/v1/tasks/tsk_x/cancel' },
  { method: 'POST', path: '/v1/aws/accounts' },
  { method: 'GET', path: '/v1/aws/accounts/acc_x' },
  { method: 'PATCH', path: '/v1/aws/accounts/acc_x' },
  { method: 'DELETE', path: '/v1/aws/accounts/acc_x' },
  { method: 'POST', path: '/v1/aws/accounts/acc_x/validate' },
];

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const BAD_VALUES: unknown[] = [null, true, 0, -1, 1e308, -1e308, 2 ** 64, 'x'.repeat(5_000), [], [1, 'a'], {}, { $ne: null }, '../../etc/passwd', '\u0000', '💥'.repeat(100)];
const FIELDS = ['name', 'type', 'payload', 'selectors', 'priority', 'queueTimeoutSeconds', 'runTimeoutSeconds', 'partition', 'auth', 'delegateSelectors', 'roleArn', '__proto__', 'constructor'];

/** One malformed request: [raw body, content type, query string]. */
function generate(r: () => number): { body: string | Buffer | undefined; contentType: string | undefined; query: string; kind: string } {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  const k = Math.floor(r() * 10);
  switch (k) {
    case 0:
      return { kind: 'broken-json', body: pick(['{', '{"a":', '{"type":"echo",}', "{'a':1}", '[1,2', '{"a":1}}', 'nul', '"\\ud800"', '{"a":"\\x00"}']), contentType: 'application/json', query: '' };
    case 1:
      return { kind: 'wrong-types', body: JSON.stringify(Object.fromEntries(FIELDS.slice(0, 1 + Math.floor(r() * FIELDS.length)).map((f) => [f, pick(BAD_VALUES)]))), contentType: 'application/json', query: '' };
    case 2:
      return { kind: 'unknown-fields', body: JSON.stringify({ type: 'echo', payload: {}, [`x${Math.floor(r() * 1e6)}`]: 1, name: 'n', partition: 'aws' }), contentType: 'application/json', query: '' };
    case 3:
      return { kind: 'oversized', body: Buffer.alloc(64 * 1024 + 1 + Math.floor(r() * 2 * 1024 * 1024), 0x61), contentType: 'application/json', query: '' };
    case 4:
      return { kind: 'content-type', body: pick(['type=echo', '<task/>', 'echo', '\u0000\u0001']), contentType: pick(['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream']), query: '' };
    case 5:
      return { kind: 'huge-numbers', body: `{"type":"echo","priority":${pick(['1e999', '-1e999', '99999999999999999999999999', '0.0000000000000000000001', 'NaN', 'Infinity'])},"queueTimeoutSeconds":1e400}`, contentType: 'application/json', query: '' };
    case 6:
      return { kind: 'deep-nesting', body: `{"type":"echo","payload":${deep(1_000 + Math.floor(r() * 9_000))}}`, contentType: 'application/json', query: '' };
    case 7:
      return { kind: 'bad-query', body: undefined, contentType: undefined, query: pick(['?waitSeconds=abc', '?waitSeconds=1e9', '?limit=-5', '?limit=99999999999', '?state=nope', '?before=' + 'x'.repeat(500), '?unknown=1', '?waitSeconds[]=1']) };
    case 8:
      return { kind: 'not-object', body: JSON.stringify(pick([[], 'str', 1, null, true, [[{}]]])), contentType: 'application/json', query: '' };
    default:
      return { kind: 'empty', body: pick(['', ' ', '\n']), contentType: 'application/json', query: '' };
  }
}

it(`${BODIES} malformed API requests: every one a 4xx, no 5xx, the process alive`, async () => {
  const r = rng(6);
  const byStatus = new Map<number, number>();
  const byKind = new Map<string, number>();
  const failures: string[] = [];
  let sent = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (sent < BODIES) {
        sent++;
        const route = ROUTES[Math.floor(r() * ROUTES.length)]!;
        let g = generate(r);
        // A GET has no body to spoil: give it a bad query string instead.
        while (route.method === 'GET' && g.kind !== 'bad-query') g = generate(r);
        const key = route.operator ? cp.operator.key : tenant.api.key;
        const withBody = route.method !== 'GET' && g.body !== undefined;
        const res = await fetch(`${cp.httpUrl}${route.path}${g.query}`, {
          method: route.method,
          headers: { authorization: `Bearer ${key}`, ...(withBody && g.contentType ? { 'content-type': g.contentType } : {}) },
          ...(withBody ? { body: typeof g.body === 'string' ? g.body : new Uint8Array(g.body!) } : {}),
        }).catch((err: Error) => err);
        const status = res instanceof Error ? 0 : res.status;
        if (!(res instanceof Error)) await res.arrayBuffer().catch(() => undefined);
        byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
        byKind.set(g.kind, (byKind.get(g.kind) ?? 0) + 1);
        if (status < 400 || status >= 500) failures.push(`${route.method} ${route.path}${g.query} [${g.kind}] → ${status || (res as Error).message}`);
      }
    }),
  );
  const health = await fetch(`${cp.httpUrl}/healthz`);
  process.stdout.write(`[chaos] bad API requests ${sent}: by status ${JSON.stringify(Object.fromEntries(byStatus))}; by kind ${JSON.stringify(Object.fromEntries(byKind))}; /healthz ${health.status}\n`);
  expect(failures.slice(0, 20)).toEqual([]);
  expect(health.status).toBe(200);
  expect(cp.proc.running).toBe(true);
});

it(`${FRAMES} malformed, truncated and oversized frames on the gRPC carrier: each stream closed with a reason`, async () => {
  const r = rng(7);
  const client = new grpc.Client(new URL(cp.grpcUrl).host, grpc.credentials.createInsecure(), {
    'grpc.max_send_message_length': 8 * MAX_FRAME_BYTES,
    'grpc.max_receive_message_length': MAX_FRAME_BYTES,
  });
  const hello = Buffer.from(
    toBinary(DelegateFrameSchema, create(DelegateFrameSchema, { frame: { case: 'hello', value: { name: 'bad', instanceId: 'i-1', tags: ['x'], taskTypes: ['echo'], maxConcurrency: 1 } } })),
  );
  const kinds: Array<[string, () => Buffer]> = [
    ['random-bytes', () => Buffer.from(Array.from({ length: 1 + Math.floor(r() * 200) }, () => Math.floor(r() * 256)))],
    ['truncated-hello', () => hello.subarray(0, 1 + Math.floor(r() * (hello.length - 2)))],
    ['oversized', () => Buffer.alloc(MAX_FRAME_BYTES + 1 + Math.floor(r() * 1024), 0x0a)],
    ['bad-varint', () => Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])],
    ['wrong-wire-type', () => Buffer.from([0x0f, 0x01, 0x02])],
    ['empty-frame', () => Buffer.alloc(0)],
  ];
  const outcomes = new Map<string, number>();
  const failures: string[] = [];
  for (let i = 0; i < FRAMES; i++) {
    const [kind, make] = kinds[i % kinds.length]!;
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${token}`);
    const call = client.makeBidiStreamRequest<Buffer, Buffer>(CONNECT_METHOD_PATH, (b: Buffer) => b, (b: Buffer) => b, md, { deadline: Date.now() + 10_000 });
    let goodbye = '';
    const status = await new Promise<grpc.StatusObject>((resolve) => {
      call.on('data', (b: Buffer) => {
        const f = fromBinary(ControlFrameSchema, b);
        if (f.frame.case === 'goodbye') goodbye = `${f.frame.value.code}: ${f.frame.value.reason}`;
      });
      call.on('error', () => undefined);
      call.on('status', resolve);
      call.write(make());
    });
    call.end();
    const label = goodbye ? `Goodbye ${goodbye.split(':')[0]}` : `${grpc.status[status.code]}`;
    outcomes.set(`${kind}:${label}`, (outcomes.get(`${kind}:${label}`) ?? 0) + 1);
    // A bad frame must end the stream with a reason: a Goodbye frame or a non-OK status with details.
    // DEADLINE_EXCEEDED would mean the frame was silently ignored.
    const closedWithReason = goodbye !== '' || (status.code !== grpc.status.OK && status.code !== grpc.status.DEADLINE_EXCEEDED && status.details !== '');
    if (!closedWithReason) failures.push(`${kind} → ${label} "${status.details}"`);
  }
  client.close();
  const health = await fetch(`${cp.httpUrl}/healthz`);
  process.stdout.write(`[chaos] bad gRPC frames ${FRAMES}: ${JSON.stringify(Object.fromEntries(outcomes))}; /healthz ${health.status}\n`);
  expect(failures.slice(0, 20)).toEqual([]);
  expect(health.status).toBe(200);
  expect(cp.proc.running).toBe(true);
});
