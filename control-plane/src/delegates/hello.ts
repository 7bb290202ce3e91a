import type { Hello } from '@attache/proto';
import { keyIdOf, KEY_TAG_PREFIX, SEALING_ALGORITHM } from '../security/sealed-refs.js';
import { normaliseTags } from '../tasks/eligibility.js';
import { validateHelloPolicy, type DelegatePolicyView } from './hello-policy.js';

/** Limits on what a delegate may declare: bounded so one delegate cannot bloat every routing query. */
export const HELLO_LIMITS = { maxTags: 64, maxTaskTypes: 32, maxInFlightRefs: 1000, maxConcurrency: 1000, maxPublicKeys: 8 } as const;
const NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const TAG = /^[a-z0-9][a-z0-9._:/-]{0,62}$/;
const INSTANCE = /^[A-Za-z0-9._:-]{1,128}$/;

export interface ValidHello {
  name: string;
  instanceId: string;
  tags: string[];
  taskTypes: string[];
  maxConcurrency: number;
  version: string;
  /**
   * Group keys for sealed values, current first. Each becomes a `key:<keyId>` tag once the delegate
   * has proved it holds the private key (KeyChallenge/KeyProof); `tags` does not include them.
   */
  publicKeys: Array<{ keyId: string; algorithm: string; publicKey: string }>;
  /** What the delegate's installer lets it read and reach (delegates/hello-policy.ts); null if it sent none. */
  policy: DelegatePolicyView | null;
}

/** Validates a Hello frame at the edge; returns the problems, or the normalised declaration. */
export function validateHello(hello: Hello): { ok: true; value: ValidHello } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  if (!NAME.test(hello.name)) problems.push(`name "${hello.name.slice(0, 80)}" must match ${NAME.source}`);
  if (!INSTANCE.test(hello.instanceId)) problems.push('instance_id must be 1-128 characters of [A-Za-z0-9._:-]');
  if (hello.tags.length > HELLO_LIMITS.maxTags) problems.push(`at most ${HELLO_LIMITS.maxTags} tags`);
  for (const t of hello.tags) if (!TAG.test(t)) problems.push(`tag "${t.slice(0, 80)}" must match ${TAG.source}`);
  if (hello.taskTypes.length === 0) problems.push('task_types must name at least one task type');
  if (hello.taskTypes.length > HELLO_LIMITS.maxTaskTypes) problems.push(`at most ${HELLO_LIMITS.maxTaskTypes} task types`);
  if (hello.maxConcurrency < 1 || hello.maxConcurrency > HELLO_LIMITS.maxConcurrency) {
    problems.push(`max_concurrency must be between 1 and ${HELLO_LIMITS.maxConcurrency}`);
  }
  if (hello.inFlight.length > HELLO_LIMITS.maxInFlightRefs) problems.push('too many in_flight task references');
  if (hello.version.length > 64) problems.push('version must be at most 64 characters');
  // Key tags come only from verified keys: a delegate declaring key:<id> itself would draw sealed work it cannot open.
  for (const t of hello.tags) if (t.startsWith(KEY_TAG_PREFIX)) problems.push(`tag "${t.slice(0, 80)}" is reserved; key tags come from public_keys`);
  if (hello.publicKeys.length > HELLO_LIMITS.maxPublicKeys) problems.push(`at most ${HELLO_LIMITS.maxPublicKeys} public keys`);
  for (const k of hello.publicKeys) {
    if (k.algorithm !== SEALING_ALGORITHM) problems.push(`public key ${k.keyId.slice(0, 32)}: algorithm must be ${SEALING_ALGORITHM}`);
    else if (k.publicKey.length !== 32) problems.push(`public key ${k.keyId.slice(0, 32)}: an X25519 key has 32 bytes, not ${k.publicKey.length}`);
    else if (keyIdOf(k.publicKey) !== k.keyId) problems.push(`public key ${k.keyId.slice(0, 32)}: key_id must be the first 16 hex digits of SHA-256 of the key`);
  }
  const policy = validateHelloPolicy(hello.policy, problems);
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      name: hello.name,
      instanceId: hello.instanceId,
      tags: normaliseTags([...hello.tags, hello.name]),
      taskTypes: normaliseTags(hello.taskTypes),
      maxConcurrency: hello.maxConcurrency,
      version: hello.version || 'unknown',
      publicKeys: hello.publicKeys.map((k) => ({ keyId: k.keyId, algorithm: k.algorithm, publicKey: Buffer.from(k.publicKey).toString('base64url') })),
      policy,
    },
  };
}
