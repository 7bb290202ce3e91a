import { DELEGATE_POLICY_LIMITS, UNSAFE_POLICY_CHARACTERS } from '@attache/proto';

/**
 * The bounds every policy entry keeps, so that what Hello reports is exactly what is enforced: the
 * control plane refuses a Hello beyond them, and the delegate refuses such a configuration first,
 * naming the variable, instead of failing to register.
 */
export function entryProblems(entries: readonly string[]): string[] {
  const problems: string[] = [];
  if (entries.length > DELEGATE_POLICY_LIMITS.maxEntries) problems.push(`at most ${DELEGATE_POLICY_LIMITS.maxEntries} entries, not ${entries.length}`);
  for (const entry of entries) {
    if (entry.length > DELEGATE_POLICY_LIMITS.maxEntryLength) problems.push(`"${entry.slice(0, 40)}…" is longer than ${DELEGATE_POLICY_LIMITS.maxEntryLength} characters`);
    else if (UNSAFE_POLICY_CHARACTERS.test(entry)) problems.push(`${JSON.stringify(entry)} contains a control or bidirectional formatting character`);
  }
  return problems;
}
