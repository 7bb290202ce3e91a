import { DELEGATE_POLICY_LIMITS, UNSAFE_POLICY_CHARACTERS, type DelegatePolicy } from '@attache/proto';

/**
 * What a delegate reports of its own policy in Hello (`Hello.policy`): the reference patterns and
 * allowed origins its installer set, and their digest. Shown in `GET /v1/delegates` so a tenant sees
 * what each delegate permits; the control plane never acts on it (the delegate enforces it).
 */
export interface DelegatePolicyView {
  digest: string;
  allowRefs: string[];
  allowEndpoints: string[];
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/**
 * Validates `Hello.policy` at the edge, adding one line per problem to `problems`. Returns the view
 * to store, or null when the delegate sent none (one that predates the field) or it is invalid.
 */
export function validateHelloPolicy(policy: DelegatePolicy | undefined, problems: string[]): DelegatePolicyView | null {
  if (policy === undefined) return null;
  const before = problems.length;
  const list = (name: string, entries: string[]) => {
    if (entries.length > DELEGATE_POLICY_LIMITS.maxEntries) problems.push(`policy.${name}: at most ${DELEGATE_POLICY_LIMITS.maxEntries} entries`);
    entries.forEach((entry, i) => {
      if (entry.length === 0 || entry.length > DELEGATE_POLICY_LIMITS.maxEntryLength) problems.push(`policy.${name}[${i}] must be 1 to ${DELEGATE_POLICY_LIMITS.maxEntryLength} characters`);
      else if (UNSAFE_POLICY_CHARACTERS.test(entry)) problems.push(`policy.${name}[${i}] contains a control or bidirectional formatting character`);
    });
  };
  list('allow_refs', policy.allowRefs);
  list('allow_endpoints', policy.allowEndpoints);
  if (!DIGEST.test(policy.digest)) problems.push('policy.digest must be sha256: followed by 64 lower-case hex digits');
  if (problems.length > before) return null;
  return { digest: policy.digest, allowRefs: [...policy.allowRefs], allowEndpoints: [...policy.allowEndpoints] };
}
