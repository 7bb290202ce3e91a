import type { Account } from '../api/client.js';

export type Partition = Account['partition'];

/**
 * The partitions as people name them, with the test region the control plane defaults to for each
 * (control-plane/src/aws/partitions.ts); the field is prefilled so the person sees what will be used.
 */
export const PARTITIONS: ReadonlyArray<{ value: Partition; label: string; defaultRegion: string }> = [
  { value: 'aws', label: 'AWS', defaultRegion: 'us-east-1' },
  { value: 'aws-us-gov', label: 'AWS GovCloud (US)', defaultRegion: 'us-gov-west-1' },
  { value: 'aws-iso-b', label: 'AWS Secret Region (SC2S)', defaultRegion: 'us-isob-east-1' },
  { value: 'aws-iso', label: 'AWS Top Secret Region (C2S)', defaultRegion: 'us-iso-east-1' },
];

export function partitionLabel(p: string): string {
  return PARTITIONS.find((x) => x.value === p)?.label ?? p;
}

export const AUTH_LABELS: Record<string, string> = {
  static: 'Static access keys',
  assumeRole: 'Assume role (STS)',
  delegate: "Delegate's own credentials",
  irsa: 'IRSA',
  podIdentity: 'EKS Pod Identity',
  scap: 'SCAP / CAP portal',
};
