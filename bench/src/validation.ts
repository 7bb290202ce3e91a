import { performance } from 'node:perf_hooks';
import { DescribeRegionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { startMotoWithIdentities } from '@attache/testkit/moto';
import { loadPolicyConfig } from '@attache/delegate';
import { Fleet } from './agents.js';
import { benchControlPlane, tenantWithToken } from './cluster.js';
import { JsonClient } from './http-client.js';
import { summarise, type LatencySummary } from './stats.js';

export interface ValidationOptions {
  /** Validations timed one after another, for each of the two paths. */
  runs: number;
}

export interface ValidationRow {
  direct: LatencySummary;
  viaDelegate: LatencySummary;
  ratioP50: number;
}

/**
 * aws.validate through the whole product (API → control plane → gRPC → delegate → moto_server
 * with auth enforced → result recorded on the account) against the same two SDK calls made
 * directly from this process with fresh clients, as a one-off validation would make them.
 * The delegate runs in this process too, so both paths share the SDK's warm code.
 */
export async function runValidation(opts: ValidationOptions, log: (s: string) => void): Promise<ValidationRow> {
  const { moto, identities } = await startMotoWithIdentities();
  const cp = await benchControlPlane();
  let fleet: Fleet | undefined;
  const saved = { endpoint: process.env['AWS_ENDPOINT_URL'], imds: process.env['AWS_EC2_METADATA_DISABLED'] };
  try {
    process.env['AWS_ENDPOINT_URL'] = moto.endpoint;
    process.env['AWS_EC2_METADATA_DISABLED'] = 'true';
    process.env['BENCH_AWS_ACCESS_KEY_ID'] = identities.validUser.accessKeyId;
    process.env['BENCH_AWS_SECRET'] = identities.validUser.secretAccessKey;
    const { apiKey, token } = await tenantWithToken(cp, 'validation');
    // Configured as an installer would: the bench's own variables may be resolved.
    const policy = loadPolicyConfig({ ATTACHE_ALLOW_REFS: 'env:BENCH_AWS_*' });
    if (!policy.ok) throw new Error(policy.errors.join('; '));
    fleet = await Fleet.start({ url: cp.grpcUrl, token, name: 'aws', count: 1, tags: ['aws'], policy: policy.policy });
    const api = new JsonClient(cp.httpUrl, apiKey, 4);
    const created = await api.send<{ id: string }>('POST', '/v1/aws/accounts', {
      name: 'bench',
      partition: 'aws',
      delegateSelectors: ['aws'],
      auth: { type: 'static', accessKeyId: 'env:BENCH_AWS_ACCESS_KEY_ID', secretAccessKey: 'env:BENCH_AWS_SECRET' },
    });
    if (created.status !== 201) throw new Error(`creating the account failed: ${created.status} ${JSON.stringify(created.body)}`);

    const credentials = { accessKeyId: identities.validUser.accessKeyId, secretAccessKey: identities.validUser.secretAccessKey };
    const direct = async () => {
      const sts = new STSClient({ region: identities.region, endpoint: moto.endpoint, credentials });
      const ec2 = new EC2Client({ region: identities.region, endpoint: moto.endpoint, credentials });
      await sts.send(new GetCallerIdentityCommand({}));
      await ec2.send(new DescribeRegionsCommand({}));
      sts.destroy();
      ec2.destroy();
    };
    const viaDelegate = async () => {
      const res = await api.send<{ task: { state: string; error?: unknown } }>('POST', `/v1/aws/accounts/${created.body.id}/validate?waitSeconds=30`);
      if (res.status !== 200 || res.body.task.state !== 'succeeded') throw new Error(`validation failed: ${res.status} ${JSON.stringify(res.body)}`);
    };
    const time = async (f: () => Promise<void>, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) {
        const t0 = performance.now();
        await f();
        out.push(performance.now() - t0);
      }
      return out;
    };
    // Warm both paths, then interleave rounds so a moto hiccup does not land on one side only.
    await time(direct, 3);
    await time(viaDelegate, 3);
    const d: number[] = [];
    const v: number[] = [];
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      d.push(...(await time(direct, Math.ceil(opts.runs / rounds))));
      v.push(...(await time(viaDelegate, Math.ceil(opts.runs / rounds))));
    }
    api.close();
    const row = { direct: summarise(d), viaDelegate: summarise(v), ratioP50: summarise(v).p50 / summarise(d).p50 };
    log(`  validation: direct p50 ${row.direct.p50.toFixed(1)} ms, through a delegate p50 ${row.viaDelegate.p50.toFixed(1)} ms (×${row.ratioP50.toFixed(2)})`);
    return row;
  } finally {
    if (saved.endpoint === undefined) delete process.env['AWS_ENDPOINT_URL'];
    else process.env['AWS_ENDPOINT_URL'] = saved.endpoint;
    if (saved.imds === undefined) delete process.env['AWS_EC2_METADATA_DISABLED'];
    await fleet?.stop();
    await cp.stop();
    await moto.stop();
  }
}
