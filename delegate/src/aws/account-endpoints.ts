import type { aws } from '@attache/proto';
import type { EndpointPolicy, PermittedUrl } from '../policy/endpoint-policy.js';
import type { AwsService } from '../policy/partition-endpoints.js';
import type { BaseAuthKind } from './credentials.js';
import type { Partition } from './partitions.js';

/** The addresses an account names, each let through by the delegate's endpoint policy. */
export interface AccountEndpoints {
  readonly sts?: PermittedUrl | undefined;
  readonly ec2?: PermittedUrl | undefined;
  readonly iam?: PermittedUrl | undefined;
  /** The SCAP/CAP portal, when the base credentials come from one. */
  readonly portal?: PermittedUrl | undefined;
}

/**
 * Checks every address a task of this account will connect to, before the first connection: the
 * overrides of the services the task calls (`services`) and the SCAP/CAP portal. One refusal fails
 * the whole task with ENDPOINT_NOT_ALLOWED, so nothing is sent anywhere, not even to an allowed
 * endpoint, for a task that names a forbidden one.
 */
export function accountEndpoints(
  endpoints: aws.Endpoints | undefined,
  base: BaseAuthKind,
  partition: Partition,
  policy: EndpointPolicy,
  services: readonly AwsService[],
): AccountEndpoints {
  const permit = (service: AwsService): PermittedUrl | undefined => {
    const url = services.includes(service) ? endpoints?.[service] : undefined;
    return url ? policy.permit(url, { field: `endpoints.${service}`, partition }) : undefined;
  };
  const portalUrl = base.case === 'scap' ? base.value.portalUrl : '';
  return {
    sts: permit('sts'),
    ec2: permit('ec2'),
    iam: permit('iam'),
    portal: portalUrl ? policy.permit(portalUrl, { field: 'portalUrl', partition }) : undefined,
  };
}
