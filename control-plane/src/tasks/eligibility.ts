import { keyTag } from '../security/sealed-refs.js';

/**
 * What routes work, in one place: the grammar of group names, tags and task types, the tags a
 * delegate carries, the selectors a task runs with, and the rule that says whether a delegate can
 * take a task. Claims (the stores' SQL, tested against the same cases), placement on this replica,
 * role setup and the explanation in NO_ELIGIBLE_DELEGATE all follow it, so an operator reads exactly
 * what routing checked.
 */

/** A delegate group name (Hello `name`, an account's `gateway`, a token's `group`); also a tag. */
export const GROUP_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const GROUP_NAME_RULE = 'lowercase letters, digits and -, starting with a letter or digit, at most 63 characters';

/** A routing tag (Hello `tags`, task selectors, a token's `tags`). */
export const TAG = /^[a-z0-9][a-z0-9._:/-]{0,62}$/;
export const TAG_RULE = 'lowercase letters, digits and . _ : / -, starting with a letter or digit, at most 63 characters';

/** A task type a delegate may declare: the shape of the known ones (echo, aws.validate, aws.listPolicies). */
export const TASK_TYPE = /^(?=.{1,64}$)[a-z][a-z0-9]*(\.[a-z][A-Za-z0-9]*)*$/;
export const TASK_TYPE_RULE = 'dot-separated words, lowercase first (e.g. aws.listPolicies), at most 64 characters';

export interface DelegateView {
  id: string;
  name: string;
  /** Tags including the delegate's own name. */
  tags: readonly string[];
  taskTypes: readonly string[];
  status: 'connected' | 'draining' | 'disconnected';
  inFlight: number;
  maxConcurrency: number;
}

export interface TaskRequirements {
  type: string;
  selectors: readonly string[];
}

export interface Ineligibility {
  delegateId: string;
  name: string;
  reasons: string[];
}

/** Tags and selectors as sets: trimmed, without blanks and duplicates, sorted. */
export function normaliseTags(tags: readonly string[]): string[] {
  return [...new Set(tags.map((t) => t.trim()).filter((t) => t.length > 0))].sort();
}

/**
 * The tags a delegate routes by: what it declared, its group name (so a gateway's tasks reach only
 * its group), and `key:<id>` for each group key it proved it holds (never declared: a delegate
 * claiming a key tag would draw sealed work it cannot open).
 */
export function delegateTags(declared: readonly string[], group: string, provenKeyIds: readonly string[] = []): string[] {
  return normaliseTags([...declared, group, ...provenKeyIds.map(keyTag)]);
}

/**
 * The selectors a task of an account runs with: the account's own plus, when it names a gateway,
 * the gateway's group name, which every delegate of the group carries as a tag.
 */
export function routeSelectors(selectors: readonly string[], gateway?: string | null): string[] {
  return normaliseTags(gateway ? [...selectors, gateway] : selectors);
}

/** The selectors a delegate with `tags` lacks; empty when it carries them all. */
export function missingTags(tags: readonly string[], selectors: readonly string[]): string[] {
  return selectors.filter((s) => !tags.includes(s));
}

/** True when a delegate with `tags` carries every selector (the tag half of the rule). */
export function carriesSelectors(tags: readonly string[], selectors: readonly string[]): boolean {
  return missingTags(tags, selectors).length === 0;
}

/** Reasons that never change while the delegate stays connected: tags and task types. */
export function staticReasons(d: Pick<DelegateView, 'tags' | 'taskTypes'>, task: TaskRequirements): string[] {
  const reasons: string[] = [];
  const missing = missingTags(d.tags, task.selectors);
  if (missing.length > 0) reasons.push(`missing tags: ${missing.join(', ')}`);
  if (!d.taskTypes.includes(task.type)) reasons.push(`task type "${task.type}" not supported`);
  return reasons;
}

/**
 * The rule a claim encodes: a delegate of the task's tenant may claim it when it carries every
 * selector and declares the type. Status and room are the caller's (a claim is made for a slot).
 */
export function matches(d: Pick<DelegateView, 'tags' | 'taskTypes'>, task: TaskRequirements): boolean {
  return staticReasons(d, task).length === 0;
}

/** All reasons, including the passing ones (draining, full). Empty means it can take the task now. */
export function allReasons(d: DelegateView, task: TaskRequirements): string[] {
  const reasons = staticReasons(d, task);
  if (d.status === 'draining') reasons.push('draining');
  else if (d.status === 'disconnected') reasons.push('disconnected');
  else if (d.inFlight >= d.maxConcurrency) reasons.push(`full (${d.inFlight}/${d.maxConcurrency} tasks)`);
  return reasons;
}

/** A delegate that could take the task once it has a free slot. */
export function couldEverTake(d: DelegateView, task: TaskRequirements): boolean {
  return d.status === 'connected' && matches(d, task);
}

/** Every delegate with its reasons; one without any can take the task now (GET /v1/delegates/eligibility). */
export function assess(delegates: readonly DelegateView[], task: TaskRequirements): Ineligibility[] {
  return delegates.map((d) => ({ delegateId: d.id, name: d.name, reasons: allReasons(d, task) }));
}

/** The delegates that cannot take the task now, with why (NO_ELIGIBLE_DELEGATE's details). */
export function explain(delegates: readonly DelegateView[], task: TaskRequirements): Ineligibility[] {
  return assess(delegates, task).filter((e) => e.reasons.length > 0);
}
