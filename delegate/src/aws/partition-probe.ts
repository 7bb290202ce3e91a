import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { createStsClient } from './clients.js';
import type { AwsCredentials } from './credentials.js';
import { defaultTestRegion, partitionOfArn, PARTITIONS, type Partition } from './partitions.js';

/** Each probe is a courtesy on the way to an error: it must not hold the answer up for long. */
const PROBE_TIMEOUT_MS = 5_000;

export interface PartitionProbeHit {
  readonly partition: Partition;
  readonly arn: string;
  readonly region: string;
}

/**
 * Credentials rejected as unknown may simply belong to another partition (GovCloud keys in a
 * standard account, or the reverse): asks sts:GetCallerIdentity in the default region of every
 * other partition, in parallel, through the SDK's own endpoint resolution (AWS_ENDPOINT_URL
 * included; the account's overrides belong to its own partition). Unreachable partitions (the
 * air-gapped ones, from most networks) simply do not answer. The account's CA bundle is trusted
 * alongside the system roots, since the other partition's endpoints may use either.
 */
export async function probeOtherPartitions(
  credentials: AwsCredentials,
  options: { readonly partition: Partition; readonly caBundle?: string | undefined; readonly signal: AbortSignal },
): Promise<PartitionProbeHit | undefined> {
  const others = PARTITIONS.filter((p) => p !== options.partition);
  const signal = AbortSignal.any([options.signal, AbortSignal.timeout(PROBE_TIMEOUT_MS)]);
  const answers = await Promise.all(
    others.map(async (partition): Promise<PartitionProbeHit | undefined> => {
      const region = defaultTestRegion(partition);
      const sts = createStsClient({ region, credentials, caBundle: options.caBundle, withSystemRoots: true, maxAttempts: 1 });
      try {
        const answer = await sts.send(new GetCallerIdentityCommand({}), { abortSignal: signal });
        const arn = answer.Arn ?? '';
        // Trust the ARN, not the region asked: an endpoint override could route anywhere.
        return partitionOfArn(arn) === partition ? { partition, arn, region } : undefined;
      } catch {
        return undefined;
      } finally {
        sts.destroy();
      }
    }),
  );
  return answers.find((hit) => hit !== undefined);
}
