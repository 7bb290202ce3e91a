import { describe, expect, it } from 'vitest';
import { createEc2Client, createStsClient } from './clients.js';
import { defaultTestRegion, isPartition, partitionOfArn, partitionOfRegion } from './partitions.js';

describe('partitions', () => {
  it('has a default test region per partition', () => {
    expect(defaultTestRegion('aws')).toBe('us-east-1');
    expect(defaultTestRegion('aws-us-gov')).toBe('us-gov-west-1');
    expect(defaultTestRegion('aws-iso')).toBe('us-iso-east-1');
    expect(defaultTestRegion('aws-iso-b')).toBe('us-isob-east-1');
  });

  it('knows which partition a region is in', () => {
    expect(partitionOfRegion('eu-west-1')).toBe('aws');
    expect(partitionOfRegion('us-gov-east-1')).toBe('aws-us-gov');
    expect(partitionOfRegion('us-iso-west-1')).toBe('aws-iso');
    expect(partitionOfRegion('us-isob-east-1')).toBe('aws-iso-b');
    expect(partitionOfRegion('cn-north-1')).toBeUndefined();
  });

  it('reads the partition of an ARN', () => {
    expect(partitionOfArn('arn:aws-us-gov:sts::123456789012:assumed-role/r/s')).toBe('aws-us-gov');
    expect(partitionOfArn('not-an-arn')).toBeUndefined();
  });

  it('accepts only the served partitions', () => {
    expect(isPartition('aws-iso-b')).toBe(true);
    expect(isPartition('aws-cn')).toBe(false);
  });

  it("resolves each partition's endpoints from the SDK's partition data", () => {
    const expected = { 'us-isob-east-1': 'sc2s.sgov.gov', 'us-iso-east-1': 'c2s.ic.gov', 'us-gov-west-1': 'amazonaws.com' };
    for (const [region, suffix] of Object.entries(expected)) {
      const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'unused' };
      for (const client of [createStsClient({ region, credentials }), createEc2Client({ region, credentials })]) {
        const service = client.config.serviceId.toLowerCase();
        const url = client.config.endpointProvider({ Region: region, UseFIPS: false, UseDualStack: false }).url.href;
        expect(url).toBe(`https://${service}.${region}.${suffix}/`);
        client.destroy();
      }
    }
  });
});
