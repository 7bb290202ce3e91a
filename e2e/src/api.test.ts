import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTenant, REPO_ROOT, startControlPlane, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import { freePort } from './support/ports.js';
import { jsonLines, Proc } from './support/process.js';

/** The REST API at its edge: authentication, validation, isolation, secrets never echoed or logged. */
describe('REST API', () => {
  let cp: ControlPlaneHandle;
  let a: TenantHandle;
  let b: TenantHandle;

  beforeAll(async () => {
    cp = await startControlPlane();
    a = await createTenant(cp, 'alpha');
    b = await createTenant(cp, 'beta');
  });
  afterAll(async () => cp?.stop());

  const staticAccount = (name: string) => ({
    name,
    partition: 'aws',
    auth: { type: 'static', accessKeyId: 'env:AWS_ACCESS_KEY_ID', secretAccessKey: 'file:/var/run/secrets/aws/secret' },
    delegateSelectors: ['aws'],
  });

  it('health, readiness and an authenticated API', async () => {
    expect((await fetch(`${cp.httpUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${cp.httpUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { store: 'ok', carriers: 'ok' } });
    const anon = await fetch(`${cp.httpUrl}/v1/tasks`);
    expect(anon.status).toBe(401);
    expect(((await anon.json()) as any).error.code).toBe('UNAUTHENTICATED');
    const wrong = await a.api.withKey('atk_not-a-real-key-0000000000000000000000').get('/v1/tasks');
    expect(wrong.status).toBe(401);
  });

  it('only the operator creates tenants; a tenant key cannot', async () => {
    const res = await a.api.post('/v1/tenants', { name: 'sneaky' });
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('FORBIDDEN');
    const dup = await cp.operator.post('/v1/tenants', { name: 'alpha' });
    expect(dup.status).toBe(409);
    const tenantsAsOperator = await cp.operator.get('/v1/tasks');
    expect(tenantsAsOperator.status).toBe(403);
  });

  it('gives every tenant a random, stable external ID', async () => {
    const first = await a.api.get('/v1/aws/external-id');
    const again = await a.api.get('/v1/aws/external-id');
    expect(first.body.externalId).toBe(again.body.externalId);
    expect(first.body.externalId.length).toBeGreaterThanOrEqual(24);
    expect(first.body.externalId).not.toBe(b.externalId);
  });

  it('creates, reads, updates, lists and deletes AWS accounts within the tenant', async () => {
    const created = await a.api.post('/v1/aws/accounts', staticAccount('prod'));
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'prod', partition: 'aws', testRegion: 'us-east-1', status: 'unvalidated', delegateSelectors: ['aws'] });
    const id = created.body.id;
    const patched = await a.api.patch(`/v1/aws/accounts/${id}`, { description: 'production', testRegion: 'eu-west-1' });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ description: 'production', testRegion: 'eu-west-1' });
    expect((await a.api.get(`/v1/aws/accounts/${id}`)).body.description).toBe('production');
    expect((await a.api.get('/v1/aws/accounts')).body.items.map((x: any) => x.id)).toContain(id);
    // Tenant B can neither see, change, validate nor delete it.
    expect((await b.api.get(`/v1/aws/accounts/${id}`)).status).toBe(404);
    expect((await b.api.patch(`/v1/aws/accounts/${id}`, { description: 'x' })).status).toBe(404);
    expect((await b.api.post(`/v1/aws/accounts/${id}/validate`)).status).toBe(404);
    expect((await b.api.delete(`/v1/aws/accounts/${id}`)).status).toBe(404);
    expect((await b.api.get('/v1/aws/accounts')).body.items).toEqual([]);
    const dup = await a.api.post('/v1/aws/accounts', staticAccount('prod'));
    expect(dup.status).toBe(409);
    expect((await a.api.delete(`/v1/aws/accounts/${id}`)).status).toBe(204);
    expect((await a.api.get(`/v1/aws/accounts/${id}`)).status).toBe(404);
  });

  it('refuses literal secrets where a reference belongs, without echoing them', async () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const res = await a.api.post('/v1/aws/accounts', {
      ...staticAccount('literal'),
      auth: { type: 'static', accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: secret },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('LITERAL_SECRET_REJECTED');
    expect(res.body.error.message).toMatch(/env:NAME/);
    expect(res.text).not.toContain(secret);
    expect(res.text).not.toContain('AKIAIOSFODNN7EXAMPLE');
    const pem = await a.api.post('/v1/aws/accounts', {
      ...staticAccount('pem'),
      auth: { type: 'static', accessKeyId: 'env:K', secretAccessKey: '-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----' },
    });
    expect(pem.body.error.code).toBe('LITERAL_SECRET_REJECTED');
    expect(cp.proc.lines.join('\n')).not.toContain(secret);
  });

  it('validates accounts at the edge with actionable messages', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...staticAccount('r'), testRegion: 'us-gov-west-1' }, /not in partition aws/],
      [{ ...staticAccount('p'), partition: 'aws-cn' }, /partition/],
      [{ ...staticAccount('u'), color: 'blue' }, /color|unrecognized/i],
      [{ ...staticAccount('a'), auth: { type: 'assumeRole', roleArn: 'arn:aws-us-gov:iam::123456789012:role/x' } }, /partition aws-us-gov/],
      [{ ...staticAccount('b'), auth: { type: 'assumeRole', roleArn: 'not-an-arn' } }, /IAM role ARN/],
      [{ ...staticAccount('c'), auth: { type: 'static', accessKeyId: 'vault:x', secretAccessKey: 'env:X' } }, /secret reference/],
      [{ ...staticAccount('d'), auth: { type: 'password' } }, /auth/],
    ];
    for (const [body, message] of cases) {
      const res = await a.api.post('/v1/aws/accounts', body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe('VALIDATION_FAILED');
      expect(res.body.error.message).toMatch(message);
    }
  });

  it('answers malformed bodies, unknown task types and oversized bodies with clear 4xx errors', async () => {
    const badJson = await a.api.request('POST', '/v1/tasks', '{"type": "echo",');
    expect(badJson.status).toBe(400);
    expect(badJson.body.error.code).toBe('BAD_REQUEST');
    const unknownType = await a.api.post('/v1/tasks', { type: 'rm-rf', payload: {} });
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.error.code).toBe('UNSUPPORTED_TASK_TYPE');
    const badPayload = await a.api.post('/v1/tasks', { type: 'echo', payload: { message: 5 } });
    expect(badPayload.status).toBe(400);
    expect(badPayload.body.error.message).toMatch(/payload/);
    const direct = await a.api.post('/v1/tasks', { type: 'aws.validate', payload: {} });
    expect(direct.status).toBe(400);
    const huge = await a.api.post('/v1/tasks', { type: 'echo', payload: { message: 'x'.repeat(100_000) } });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('PAYLOAD_TOO_LARGE');
    const badSelector = await a.api.post('/v1/tasks', { type: 'echo', payload: {}, selectors: ['UPPER CASE'] });
    expect(badSelector.status).toBe(400);
    const notFound = await a.api.get('/v1/tasks/tsk_nope');
    expect(notFound.status).toBe(404);
    expect(notFound.body.error.code).toBe('NOT_FOUND');
  });

  it('shows delegate tokens once, lists them without the secret, and keeps keys out of logs', async () => {
    const created = await a.api.post('/v1/delegate-tokens', { name: 'eks' });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^atd_/);
    const list = await a.api.get('/v1/delegate-tokens');
    expect(list.text).not.toContain(created.body.token);
    expect(list.body.items.find((t: any) => t.id === created.body.id)).toMatchObject({ name: 'eks', status: 'active' });
    expect((await b.api.post(`/v1/delegate-tokens/${created.body.id}/revoke`)).status).toBe(404);
    const logs = cp.proc.lines.join('\n');
    expect(logs).not.toContain(created.body.token);
    expect(logs).not.toContain(a.api.key);
    expect(jsonLines(cp.proc).length).toBeGreaterThan(0);
  });

  it('reports the per-tenant queue for autoscalers', async () => {
    const q = await a.api.get('/v1/queue');
    expect(q.status).toBe(200);
    expect(q.body).toMatchObject({ queued: 0, items: [] });
  });

  it('a second control plane on a taken address exits 1 with a sentence naming the address and the setting', async () => {
    const grpcAddr = new URL(cp.grpcUrl).host;
    const second = Proc.spawn('control-plane-2', [join(REPO_ROOT, 'control-plane/dist/cli.js')], {
      ATTACHE_DATA_DIR: await mkdtemp(join(tmpdir(), 'attache-cp-taken-')),
      ATTACHE_HTTP_ADDR: `127.0.0.1:${await freePort()}`,
      ATTACHE_GRPC_ADDR: grpcAddr,
    });
    const exit = await second.exited;
    expect(exit.code).toBe(1);
    const out = second.lines.join('\n');
    expect(out).toContain(`Cannot listen for delegate gRPC on ${grpcAddr}: the address is already in use`);
    expect(out).toContain('Set ATTACHE_GRPC_ADDR to a free address.');
    expect(out).not.toMatch(/\n\s+at /); // no stack trace
    // The first one is untouched.
    expect((await fetch(`${cp.httpUrl}/healthz`)).status).toBe(200);
  });

  it('an oversized body still gets its 413 (and a bad key its 401) when the client reads only after sending, not a reset', async () => {
    /**
     * A client that sends the whole request before it reads anything, on a raw socket. A server that
     * answered and closed with the body still unread makes its kernel reset the connection, which
     * throws away the answer the client had not read yet.
     */
    const postThenRead = (key: string, total: number) =>
      new Promise<{ head?: string; error?: string }>((resolve) => {
        const url = new URL(cp.httpUrl);
        const socket = netConnect(Number(url.port), url.hostname);
        socket.pause();
        let received = '';
        socket.on('data', (c: Buffer) => (received += c.toString('latin1')));
        socket.on('error', (err) => resolve({ error: err.message, head: received.split('\r\n')[0] }));
        socket.on('close', () => resolve({ head: received.split('\r\n')[0] }));
        socket.on('connect', () => {
          socket.write(`POST /v1/tasks HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${key}\r\nContent-Type: application/json\r\nContent-Length: ${total}\r\nConnection: close\r\n\r\n`);
          socket.write(Buffer.alloc(total, 0x61), () => setTimeout(() => socket.resume(), 300));
        });
      });
    const big = await postThenRead(a.api.key, 4 * 1024 * 1024);
    expect(big).toEqual({ head: 'HTTP/1.1 413 Payload Too Large' });
    const unauthenticated = await postThenRead('atk_not_a_real_key_000000000000000000', 2 * 1024 * 1024);
    expect(unauthenticated).toEqual({ head: 'HTTP/1.1 401 Unauthorized' });
  });
});
