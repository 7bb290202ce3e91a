import { describe, expect, it } from 'vitest';
import {
  allReasons,
  carriesSelectors,
  couldEverTake,
  delegateTags,
  explain,
  GROUP_NAME,
  matches,
  routeSelectors,
  staticReasons,
  TAG,
  type DelegateView,
} from './eligibility.js';
import { ELIGIBILITY_CASES } from './eligibility.cases.js';

const delegate = (over: Partial<DelegateView> = {}): DelegateView => ({
  id: 'dlg_1',
  name: 'edge',
  tags: ['edge', 'region:eu'],
  taskTypes: ['echo'],
  status: 'connected',
  inFlight: 0,
  maxConcurrency: 2,
  ...over,
});

describe('eligibility', () => {
  it.each(ELIGIBILITY_CASES)('the rule on the shared cases: $name', (c) => {
    expect(matches(c.delegate, c.task)).toBe(c.eligible);
    expect(staticReasons(c.delegate, c.task).length === 0).toBe(c.eligible);
  });

  it('matches a delegate carrying every selector and declaring the type', () => {
    expect(matches(delegate(), { type: 'echo', selectors: ['region:eu'] })).toBe(true);
    expect(matches(delegate(), { type: 'echo', selectors: [] })).toBe(true);
    expect(matches(delegate(), { type: 'echo', selectors: ['region:eu', 'gpu'] })).toBe(false);
    expect(matches(delegate(), { type: 'aws.validate', selectors: [] })).toBe(false);
  });

  it('says which tags are missing and which type is not supported', () => {
    expect(staticReasons(delegate(), { type: 'aws.validate', selectors: ['gpu', 'edge'] })).toEqual([
      'missing tags: gpu',
      'task type "aws.validate" not supported',
    ]);
  });

  it('adds draining, disconnected and full to the static reasons', () => {
    const task = { type: 'echo', selectors: [] };
    expect(allReasons(delegate({ status: 'draining' }), task)).toEqual(['draining']);
    expect(allReasons(delegate({ status: 'disconnected' }), task)).toEqual(['disconnected']);
    expect(allReasons(delegate({ inFlight: 2 }), task)).toEqual(['full (2/2 tasks)']);
    expect(allReasons(delegate({ inFlight: 1 }), task)).toEqual([]);
  });

  it('could ever take a task only while connected, whatever its load', () => {
    const task = { type: 'echo', selectors: ['edge'] };
    expect(couldEverTake(delegate({ inFlight: 2 }), task)).toBe(true);
    expect(couldEverTake(delegate({ status: 'draining' }), task)).toBe(false);
  });

  it('explains only the delegates that cannot take the task now', () => {
    const ok = delegate({ id: 'dlg_ok' });
    const full = delegate({ id: 'dlg_full', inFlight: 2 });
    expect(explain([ok, full], { type: 'echo', selectors: [] })).toEqual([{ delegateId: 'dlg_full', name: 'edge', reasons: ['full (2/2 tasks)'] }]);
  });

  it("gives a delegate its group name and its proven keys' tags, as a sorted set", () => {
    expect(delegateTags(['b', 'a', 'a', ' '], 'edge', ['0123456789abcdef'])).toEqual(['a', 'b', 'edge', 'key:0123456789abcdef']);
  });

  it("routes an account's tasks to its gateway's group by adding the group name as a selector", () => {
    expect(routeSelectors(['region:eu'], 'edge')).toEqual(['edge', 'region:eu']);
    expect(routeSelectors(['region:eu', 'region:eu'], null)).toEqual(['region:eu']);
    expect(carriesSelectors(delegateTags([], 'edge'), routeSelectors([], 'edge'))).toBe(true);
    expect(carriesSelectors(delegateTags([], 'other'), routeSelectors([], 'edge'))).toBe(false);
  });

  it('accepts a group name as a tag, and refuses uppercase and leading punctuation', () => {
    expect(GROUP_NAME.test('edge-1') && TAG.test('edge-1')).toBe(true);
    expect(TAG.test('region:eu/west_1')).toBe(true);
    expect(GROUP_NAME.test('region:eu')).toBe(false);
    expect(TAG.test('Edge')).toBe(false);
    expect(TAG.test('-edge')).toBe(false);
    expect(TAG.test('a'.repeat(64))).toBe(false);
  });
});
