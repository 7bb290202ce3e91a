import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestCa, type TestCa } from './support/certs.js';
import { createTenant, createToken, spawnDelegate, startControlPlane, waitForDelegates, type ControlPlaneHandle, type TenantHandle } from './support/cluster.js';
import type { Proc } from './support/process.js';

/** grpcs://: the control plane serves TLS, the delegate trusts only ATTACHE_CA_FILE. */
describe('gRPC carrier over TLS', () => {
  let ca: TestCa;
  let otherCa: TestCa;
  let cp: ControlPlaneHandle;
  let tenant: TenantHandle;
  let token: string;
  const procs: Proc[] = [];

  beforeAll(async () => {
    ca = await createTestCa('attache');
    otherCa = await createTestCa('stranger');
    const server = await ca.issueServer('control-plane');
    cp = await startControlPlane({ ATTACHE_GRPC_TLS_CERT: server.certFile, ATTACHE_GRPC_TLS_KEY: server.keyFile });
    tenant = await createTenant(cp, 'tls');
    token = (await createToken(tenant)).token;
  });

  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await cp?.stop();
  });

  const tlsUrl = () => cp.grpcUrl.replace('grpc://', 'grpcs://');

  it('a delegate trusting the CA registers and runs a task', async () => {
    const d = spawnDelegate({ url: tlsUrl(), token, name: 'tls-ok', tags: ['tls'], env: { ATTACHE_CA_FILE: ca.caCertFile } });
    procs.push(d);
    await waitForDelegates(tenant, 'tls-ok');
    const created = await tenant.api.post('/v1/tasks', { type: 'echo', payload: { message: 'over tls' }, selectors: ['tls'] });
    const done = await tenant.api.get(`/v1/tasks/${created.body.id}?waitSeconds=20`);
    expect(done.body).toMatchObject({ state: 'succeeded', result: { message: 'over tls' } });
  });

  it('a delegate trusting another CA never registers', async () => {
    const d = spawnDelegate({ url: tlsUrl(), token, name: 'tls-stranger', tags: ['tls'], env: { ATTACHE_CA_FILE: otherCa.caCertFile } });
    procs.push(d);
    // Waits for the refusal itself rather than a fixed time: a delegate can take seconds to start on a busy machine.
    await d.waitForLine((l) => /certificate|self[- ]signed|UNAVAILABLE|unable to verify/i.test(l), 30_000);
    const listing = (await tenant.api.get('/v1/delegates')).body.items;
    expect(listing.find((x: any) => x.name === 'tls-stranger')).toBeUndefined();
    expect(d.running).toBe(true); // it keeps retrying with backoff, as a delegate should
  });

  it('a plaintext delegate cannot talk to the TLS port', async () => {
    const d = spawnDelegate({ url: cp.grpcUrl, token, name: 'tls-plain', tags: ['tls'] });
    procs.push(d);
    await new Promise((r) => setTimeout(r, 2_000));
    const listing = (await tenant.api.get('/v1/delegates')).body.items;
    expect(listing.find((x: any) => x.name === 'tls-plain')).toBeUndefined();
  });
});
