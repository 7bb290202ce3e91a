import { createHash } from 'node:crypto';
import { EndpointPolicy } from './endpoint-policy.js';
import { formatOrigin, type OriginPattern } from './origin-pattern.js';
import { DEFAULT_ALLOW_REFS } from './reference-pattern.js';
import { ReferencePolicy } from './reference-policy.js';
import { ReservedRules, type ReservedContext } from './reserved.js';

/** The policy as `attache-delegate policy` prints it, the delegate logs it and Hello reports it (without `reserved`). */
export interface PolicySummary {
  readonly allowRefs: string[];
  readonly allowEndpoints: string[];
  /** The never-resolved rules, in words. */
  readonly reserved: string[];
  /** `sha256:` + hex of the canonical JSON of `{allowEndpoints, allowRefs}`. */
  readonly digest: string;
}

export interface DelegatePolicyOptions extends ReservedContext {
  /** Reference patterns (ATTACHE_ALLOW_REFS); defaults to DEFAULT_ALLOW_REFS. */
  readonly allowRefs?: readonly string[];
  /** Allowed origins (ATTACHE_ALLOW_ENDPOINTS); defaults to none. */
  readonly allowEndpoints?: readonly OriginPattern[];
}

/**
 * What this delegate may read and where it may connect, set by whoever installs it. Nothing the
 * control plane sends can widen it: tasks are checked against it, never the reverse.
 */
export class DelegatePolicy {
  readonly references: ReferencePolicy;
  readonly endpoints: EndpointPolicy;

  constructor(options: DelegatePolicyOptions = {}) {
    this.references = new ReferencePolicy([...(options.allowRefs ?? DEFAULT_ALLOW_REFS)], new ReservedRules(options));
    this.endpoints = new EndpointPolicy([...(options.allowEndpoints ?? [])]);
  }

  summary(): PolicySummary {
    const allowRefs = [...this.references.patterns];
    const allowEndpoints = this.endpoints.origins.map(formatOrigin);
    return { allowRefs, allowEndpoints, reserved: this.references.reserved.describe(), digest: policyDigest(allowRefs, allowEndpoints) };
  }
}

/**
 * A digest that changes exactly when what the policy allows changes: SHA-256 of
 * `{"allowEndpoints":[...],"allowRefs":[...]}` (keys in this order, no whitespace, each list
 * deduplicated and sorted as the configuration parser leaves it).
 */
export function policyDigest(allowRefs: readonly string[], allowEndpoints: readonly string[]): string {
  const canonical = JSON.stringify({ allowEndpoints: [...new Set(allowEndpoints)].sort(), allowRefs: [...new Set(allowRefs)].sort() });
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}
