/**
 * Bounds of `Hello.policy`, shared by the delegate (which refuses a configuration beyond them at
 * start, naming the variable) and the control plane (which refuses a Hello beyond them).
 */
export const DELEGATE_POLICY_LIMITS = { maxEntries: 64, maxEntryLength: 256 } as const;

/**
 * Characters no policy entry may hold: C0 and C1 controls, DEL, and the bidirectional formatting
 * characters that make text read other than it is (in a log, a console, a terminal).
 */
export const UNSAFE_POLICY_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
