import type { Hello } from '@attache/proto';
import { hasUnsafeCharacters, quoted, unsafeCodePoints } from '../names.js';
import { keyIdOf, KEY_TAG_PREFIX, SEALING_ALGORITHM } from '../security/sealed-refs.js';
import { delegateTags, GROUP_NAME, GROUP_NAME_RULE, normaliseTags, TAG, TAG_RULE, TASK_TYPE, TASK_TYPE_RULE } from '../tasks/eligibility.js';
import { validateHelloPolicy, type DelegatePolicyView } from './hello-policy.js';

/**
 * Limits on what a delegate may declare: bounded so one delegate cannot bloat every routing query,
 * every listing and every log line it appears in.
 */
export const HELLO_LIMITS = {
  maxTags: 64,
  maxTaskTypes: 32,
  maxInFlightRefs: 1000,
  maxConcurrency: 1000,
  maxPublicKeys: 8,
  maxVersionLength: 64,
  maxTaskIdLength: 64,
} as const;
const INSTANCE = /^[A-Za-z0-9._:-]{1,128}$/;
/** Printable ASCII: a version is shown as-is in listings. */
const VERSION = new RegExp(`^[\\x20-\\x7e]{0,${HELLO_LIMITS.maxVersionLength}}$`);

export interface ValidHello {
  name: string;
  instanceId: string;
  /** Declared tags plus the delegate's own name. */
  tags: string[];
  /** Only what the delegate declared (without its name): what a tag-bound token is checked against. */
  declaredTags: string[];
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
  /** Assigns it takes in one AssignBatch frame; 0 (a delegate that predates batches): one per frame. */
  maxBatchItems: number;
}

/** A task id as a delegate may refer to one (Hello in_flight, Heartbeat, Accepted, Result). */
export function validTaskRef(taskId: string): boolean {
  return taskId.length > 0 && taskId.length <= HELLO_LIMITS.maxTaskIdLength && !hasUnsafeCharacters(taskId);
}

/**
 * Checks one name-like field against its grammar. Control and bidi characters get their own
 * sentence naming their code points, and no problem ever repeats a refused value unescaped.
 */
function grammar(field: string, value: string, pattern: RegExp, rule: string): string | null {
  if (hasUnsafeCharacters(value)) return `${field} contains control or invisible formatting characters (${unsafeCodePoints(value)}), which are refused in names`;
  if (!pattern.test(value)) return `${field} ${quoted(value)} must be ${rule}`;
  return null;
}

/** Validates a Hello frame at the edge, like API input; returns the problems, or the normalised declaration. */
export function validateHello(hello: Hello): { ok: true; value: ValidHello } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const check = (problem: string | null) => void (problem && problems.push(problem));

  check(grammar('name', hello.name, GROUP_NAME, GROUP_NAME_RULE));
  check(grammar('instance_id', hello.instanceId, INSTANCE, '1-128 characters of [A-Za-z0-9._:-]'));
  if (hello.tags.length > HELLO_LIMITS.maxTags) problems.push(`at most ${HELLO_LIMITS.maxTags} tags, not ${hello.tags.length}`);
  else {
    for (const t of hello.tags) check(grammar('tag', t, TAG, TAG_RULE));
    // Key tags come only from verified keys: a delegate declaring key:<id> itself would draw sealed work it cannot open.
    for (const t of hello.tags) if (t.startsWith(KEY_TAG_PREFIX)) problems.push(`tag ${quoted(t)} is reserved; key tags come from public_keys`);
  }
  if (hello.taskTypes.length === 0) problems.push('task_types must name at least one task type');
  if (hello.taskTypes.length > HELLO_LIMITS.maxTaskTypes) problems.push(`at most ${HELLO_LIMITS.maxTaskTypes} task types, not ${hello.taskTypes.length}`);
  else for (const t of hello.taskTypes) check(grammar('task type', t, TASK_TYPE, TASK_TYPE_RULE));
  if (hello.maxConcurrency < 1 || hello.maxConcurrency > HELLO_LIMITS.maxConcurrency) {
    problems.push(`max_concurrency must be between 1 and ${HELLO_LIMITS.maxConcurrency}`);
  }
  if (hello.inFlight.length > HELLO_LIMITS.maxInFlightRefs) problems.push(`at most ${HELLO_LIMITS.maxInFlightRefs} in_flight task references`);
  else if (!hello.inFlight.every((ref) => validTaskRef(ref.taskId))) problems.push(`in_flight task ids must be 1-${HELLO_LIMITS.maxTaskIdLength} characters without control or formatting characters`);
  check(grammar('version', hello.version, VERSION, `at most ${HELLO_LIMITS.maxVersionLength} printable ASCII characters`));
  if (hello.publicKeys.length > HELLO_LIMITS.maxPublicKeys) problems.push(`at most ${HELLO_LIMITS.maxPublicKeys} public keys`);
  else {
    for (const k of hello.publicKeys) {
      const key = `public key ${quoted(k.keyId, 32)}`;
      if (k.algorithm !== SEALING_ALGORITHM) problems.push(`${key}: algorithm must be ${SEALING_ALGORITHM}`);
      else if (k.publicKey.length !== 32) problems.push(`${key}: an X25519 key has 32 bytes, not ${k.publicKey.length}`);
      else if (keyIdOf(k.publicKey) !== k.keyId) problems.push(`${key}: key_id must be the first 16 hex digits of SHA-256 of the key`);
    }
  }
  const policy = validateHelloPolicy(hello.policy, problems);
  if (problems.length > 0) return { ok: false, problems };
  const declaredTags = normaliseTags(hello.tags.filter((t) => t !== hello.name));
  return {
    ok: true,
    value: {
      name: hello.name,
      instanceId: hello.instanceId,
      tags: delegateTags(declaredTags, hello.name),
      declaredTags,
      taskTypes: normaliseTags(hello.taskTypes),
      maxConcurrency: hello.maxConcurrency,
      version: hello.version || 'unknown',
      publicKeys: hello.publicKeys.map((k) => ({ keyId: k.keyId, algorithm: k.algorithm, publicKey: Buffer.from(k.publicKey).toString('base64url') })),
      policy,
      maxBatchItems: hello.maxBatchItems,
    },
  };
}
