/**
 * AWS partitions an account can live in, with the default test region of each. Standard and
 * GovCloud credentials never cross; the ISO partitions are air-gapped. The region patterns are the
 * `regionRegex` of the AWS SDK's partition data, so the control plane accepts exactly the regions
 * the delegate's SDK will resolve endpoints for (and new regions without a release).
 */
export const PARTITIONS = {
  aws: { defaultRegion: 'us-east-1', label: 'AWS commercial', regionPattern: /^(us|eu|ap|sa|ca|me|af|il|mx)-\w+-\d+$/ },
  'aws-us-gov': { defaultRegion: 'us-gov-west-1', label: 'AWS GovCloud (US)', regionPattern: /^us-gov-\w+-\d+$/ },
  'aws-iso': { defaultRegion: 'us-iso-east-1', label: 'AWS Top Secret (C2S)', regionPattern: /^us-iso-\w+-\d+$/ },
  'aws-iso-b': { defaultRegion: 'us-isob-east-1', label: 'AWS Secret (SC2S)', regionPattern: /^us-isob-\w+-\d+$/ },
} as const;

export type Partition = keyof typeof PARTITIONS;
export const PARTITION_NAMES = Object.keys(PARTITIONS) as Partition[];

export function isRegionInPartition(region: string, partition: Partition): boolean {
  return PARTITIONS[partition].regionPattern.test(region);
}

export function partitionOfRegion(region: string): Partition | null {
  return PARTITION_NAMES.find((p) => isRegionInPartition(region, p)) ?? null;
}
