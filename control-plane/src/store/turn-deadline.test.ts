import { describe, expect, it } from 'vitest';
import { TurnDeadline } from './turn-deadline.js';

describe('TurnDeadline', () => {
  it('is overdue once per batch, and only after maxDelayMs', () => {
    let now = 100;
    const deadline = new TurnDeadline(5, () => now);
    deadline.opened();
    now = 104.9;
    expect(deadline.overdue()).toBe(false);
    now = 105;
    expect(deadline.overdue()).toBe(true);
    // The batch is already running early: the next additions wait for it, not for another deadline.
    now = 200;
    expect(deadline.overdue()).toBe(false);
    deadline.opened();
    expect(deadline.overdue()).toBe(false);
    now = 205;
    expect(deadline.overdue()).toBe(true);
  });

  it('refuses a negative or missing delay', () => {
    expect(() => new TurnDeadline(-1)).toThrow(/zero or more/);
    expect(() => new TurnDeadline(Number.NaN)).toThrow(/zero or more/);
  });
});
