import type { DelegateView, TaskRequirements } from './eligibility.js';

/**
 * The eligibility rule as a table: whether a delegate with these tags and task types may claim a
 * task with these selectors and type. `matches()` is tested against it, and so can every encoding
 * of the rule elsewhere (the stores' claim SQL), so that they cannot drift apart.
 */
export interface EligibilityCase {
  name: string;
  delegate: Pick<DelegateView, 'tags' | 'taskTypes'>;
  task: TaskRequirements;
  eligible: boolean;
}

export const ELIGIBILITY_CASES: readonly EligibilityCase[] = [
  { name: 'no selectors, declared type', delegate: { tags: ['edge'], taskTypes: ['echo'] }, task: { type: 'echo', selectors: [] }, eligible: true },
  { name: 'every selector carried', delegate: { tags: ['edge', 'gpu', 'region:eu'], taskTypes: ['echo'] }, task: { type: 'echo', selectors: ['gpu', 'region:eu'] }, eligible: true },
  { name: 'one selector missing', delegate: { tags: ['edge', 'gpu'], taskTypes: ['echo'] }, task: { type: 'echo', selectors: ['gpu', 'region:eu'] }, eligible: false },
  { name: 'type not declared', delegate: { tags: ['edge'], taskTypes: ['echo'] }, task: { type: 'aws.validate', selectors: [] }, eligible: false },
  { name: 'the group name is a tag', delegate: { tags: ['edge'], taskTypes: ['aws.validate'] }, task: { type: 'aws.validate', selectors: ['edge'] }, eligible: true },
  { name: 'another group', delegate: { tags: ['edge'], taskTypes: ['aws.validate'] }, task: { type: 'aws.validate', selectors: ['core'] }, eligible: false },
  { name: 'a proven key', delegate: { tags: ['edge', 'key:0123456789abcdef'], taskTypes: ['echo'] }, task: { type: 'echo', selectors: ['key:0123456789abcdef'] }, eligible: true },
  { name: 'another key', delegate: { tags: ['edge', 'key:0123456789abcdef'], taskTypes: ['echo'] }, task: { type: 'echo', selectors: ['key:fedcba9876543210'] }, eligible: false },
  { name: 'tags match exactly, not by prefix', delegate: { tags: ['region:eu-west'], taskTypes: ['echo'] }, task: { type: 'echo', selectors: ['region:eu'] }, eligible: false },
  { name: 'a delegate with no tags and a selector', delegate: { tags: [], taskTypes: ['echo'] }, task: { type: 'echo', selectors: ['edge'] }, eligible: false },
  { name: 'no task types at all', delegate: { tags: ['edge'], taskTypes: [] }, task: { type: 'echo', selectors: [] }, eligible: false },
];
