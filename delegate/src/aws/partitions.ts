/**
 * The AWS partitions a delegate validates against. Credentials never cross partitions (standard
 * keys cannot reach GovCloud and the reverse), so the partition decides the default test region
 * and is checked against the ARN AWS reports.
 */
export const PARTITIONS = ['aws', 'aws-us-gov', 'aws-iso', 'aws-iso-b'] as const;
export type Partition = (typeof PARTITIONS)[number];

/** One region per partition that every account can reach, used when the account names none. */
const DEFAULT_TEST_REGION: Record<Partition, string> = {
  aws: 'us-east-1',
  'aws-us-gov': 'us-gov-west-1',
  'aws-iso': 'us-iso-east-1',
  'aws-iso-b': 'us-isob-east-1',
};

export function isPartition(value: string): value is Partition {
  return (PARTITIONS as readonly string[]).includes(value);
}

export function defaultTestRegion(partition: Partition): string {
  return DEFAULT_TEST_REGION[partition];
}

/**
 * The partition a region name belongs to, from its prefix; `undefined` for partitions this
 * delegate does not serve (China, EU sovereign). Ordered so `us-isob-` wins over `us-iso-`.
 */
export function partitionOfRegion(region: string): Partition | undefined {
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  if (region.startsWith('cn-') || region.startsWith('eusc-') || /^[a-z]{2}-iso[a-z]*-/.test(region)) return undefined;
  return 'aws';
}

/** The partition field of an ARN (`arn:PARTITION:service:...`), or `undefined` if it is not an ARN. */
export function partitionOfArn(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts[0] === 'arn' && parts.length >= 6 && parts[1] !== '' ? parts[1] : undefined;
}
