import type { Partition } from '../aws/partitions.js';
import { TaskFailure } from '../executors/task-failure.js';
import { DEFAULT_PORTS, ENDPOINTS_SETTING, formatOrigin, type OriginPattern } from './origin-pattern.js';
import { isPartitionEndpoint, type AwsService } from './partition-endpoints.js';
import { matchesHostWildcard } from './wildcard.js';

/** Where in an account a URL came from; `details.field` of ENDPOINT_NOT_ALLOWED. */
export type EndpointField = 'endpoints.sts' | 'endpoints.ec2' | 'endpoints.iam' | 'portalUrl';

/**
 * A URL the endpoint policy has let through. Clients and the SCAP request take only this type for
 * an account-supplied address, so the compiler proves that no such address skips the check.
 */
export type PermittedUrl = string & { readonly __permittedBy: 'EndpointPolicy' };

const SERVICE_OF: Record<EndpointField, AwsService | undefined> = {
  'endpoints.sts': 'sts',
  'endpoints.ec2': 'ec2',
  'endpoints.iam': 'iam',
  portalUrl: undefined,
};

/**
 * Where a delegate may connect on an account's behalf. An account's endpoint overrides and
 * SCAP/CAP portal come from the control plane, which may be compromised, so each must be an origin
 * of ATTACHE_ALLOW_ENDPOINTS, or (for an endpoint override) the partition's own endpoint for that
 * service over HTTPS. Portals have no such exception: every portal is the installer's choice.
 * Without an override the SDK resolves endpoints from its partition data and the delegate's own
 * AWS_ENDPOINT_URL* and shared config, which are local configuration and need no check.
 */
export class EndpointPolicy {
  constructor(readonly origins: readonly OriginPattern[]) {}

  /**
   * `url`, as the URL parser normalises it (so the client connects to exactly what was checked), or
   * ENDPOINT_NOT_ALLOWED; decided before any connection is made.
   */
  permit(url: string, use: { readonly field: EndpointField; readonly partition: Partition }): PermittedUrl {
    let parsed: URL | undefined;
    try {
      parsed = new URL(url);
    } catch {
      parsed = undefined;
    }
    if (parsed !== undefined && (parsed.protocol === 'https:' || parsed.protocol === 'http:') && parsed.username === '' && parsed.password === '') {
      const service = SERVICE_OF[use.field];
      // As written when the parser reads it as written (up to the root path's slash), else as parsed.
      const permitted = (parsed.href === url || parsed.href === `${url}/` ? url : parsed.href) as PermittedUrl;
      if (service !== undefined && isPartitionEndpoint(parsed, service, use.partition)) return permitted;
      if (this.origins.some((origin) => originMatches(origin, parsed))) return permitted;
    }
    throw notAllowed(url, parsed, use.field, this.origins);
  }
}

function originMatches(origin: OriginPattern, url: URL): boolean {
  const scheme = url.protocol.slice(0, -1) as 'http' | 'https';
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
  return origin.scheme === scheme && origin.port === port && matchesHostWildcard(origin.host, url.hostname);
}

function notAllowed(url: string, parsed: URL | undefined, field: EndpointField, origins: readonly OriginPattern[]): TaskFailure {
  // User info is dropped from what is echoed: it could be a credential.
  const shown = parsed !== undefined ? `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}` : url.slice(0, 200);
  const allowed = origins.length === 0 ? 'empty' : origins.map(formatOrigin).join(',');
  const exception = SERVICE_OF[field] === undefined ? '' : ` or AWS's own ${SERVICE_OF[field]} endpoint of the account's partition over HTTPS`;
  return new TaskFailure(
    'ENDPOINT_NOT_ALLOWED',
    `The account's ${field} ${shown} is not allowed on this delegate: it is not an origin of ${ENDPOINTS_SETTING} (${allowed})${exception}, so the delegate made no connection to it; ask the delegate's installer to add the origin, or remove the override.`,
    { endpoint: shown, setting: ENDPOINTS_SETTING, field },
  );
}
