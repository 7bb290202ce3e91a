import { partitionOfRegion, type Partition } from '../aws/partitions.js';

/** The AWS services an account's `endpoints` may override. */
export type AwsService = 'sts' | 'ec2' | 'iam';

/**
 * Per partition, the DNS suffixes of AWS's own service endpoints and the form of its region names
 * (as in the SDK's partition data). Only these hosts, in exactly the shape AWS gives its regional
 * endpoints, are AWS's: other names under amazonaws.com (API Gateway, load balancers, EC2 public
 * DNS names) are chosen by whoever creates them, attackers included.
 */
const PARTITIONS: Record<Partition, { readonly dnsSuffixes: readonly string[]; readonly region: RegExp; readonly globalHosts: readonly string[] }> = {
  aws: { dnsSuffixes: ['amazonaws.com', 'api.aws'], region: /^(us|eu|ap|sa|ca|me|af|il|mx)-[a-z]+-\d+$/, globalHosts: [] },
  // GovCloud's IAM lives at one partition-wide name that is not a region.
  'aws-us-gov': { dnsSuffixes: ['amazonaws.com'], region: /^us-gov-[a-z]+-\d+$/, globalHosts: ['iam.us-gov.amazonaws.com'] },
  'aws-iso': { dnsSuffixes: ['c2s.ic.gov'], region: /^us-iso-[a-z]+-\d+$/, globalHosts: [] },
  'aws-iso-b': { dnsSuffixes: ['sc2s.sgov.gov'], region: /^us-isob-[a-z]+-\d+$/, globalHosts: [] },
};

/** Services with a partition-wide (global) endpoint besides the regional ones. */
const GLOBAL_SERVICES: readonly AwsService[] = ['iam', 'sts'];

/**
 * Whether `url` is `partition`'s own endpoint for `service` over HTTPS on port 443:
 * `<service>[-fips].<region>.<dnsSuffix>` with a region of the partition, or
 * `<service>[-fips].<dnsSuffix>` for the global IAM and STS endpoints.
 */
export function isPartitionEndpoint(url: URL, service: AwsService, partition: Partition): boolean {
  if (url.protocol !== 'https:' || (url.port !== '' && url.port !== '443') || url.username !== '' || url.password !== '') return false;
  const host = url.hostname;
  const data = PARTITIONS[partition];
  if (data.globalHosts.includes(host) && host.startsWith(`${service}.`)) return true;
  for (const suffix of data.dnsSuffixes) {
    if (!host.endsWith(`.${suffix}`)) continue;
    const labels = host.slice(0, -(suffix.length + 1)).split('.');
    const [name, region] = labels;
    if (name !== service && name !== `${service}-fips`) continue;
    if (labels.length === 1 && GLOBAL_SERVICES.includes(service)) return true;
    if (labels.length === 2 && region !== undefined && data.region.test(region) && partitionOfRegion(region) === partition) return true;
  }
  return false;
}
