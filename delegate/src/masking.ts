import { byteView, encodedForms } from './masking/encoded-forms.js';
import { PatternIndex } from './masking/pattern-index.js';

/**
 * Masks secret values out of everything that leaves the delegate: logs, task results, error
 * messages. Each registered value is matched in every form it can leak in (masking/encoded-forms.ts).
 *
 * Memory is bounded: a secret resolved by a task belongs to that task's scope and is masked
 * everywhere (logs of the whole process included, since SDK and carrier logs know no task) while the
 * task runs and for a bounded time after, then dropped. Only secrets with process lifetime (the
 * delegate's own token) are kept for good, and there are few of them.
 */
export const MASK = '***';

/**
 * How long a task's secrets stay masked after it ended: long enough for what may still print them
 * late (an SDK retry or a socket error logged after the task settled, an executor that ignored its
 * abort), short enough that a delegate validating fresh assumed-role credentials all day holds
 * minutes of them, not hours.
 */
export const ENDED_SCOPE_RETENTION_MS = 5 * 60_000;

/**
 * At most this many ended scopes are kept, oldest dropped first, whatever the rate: an assumed-role
 * validation registers about 7 KB of encoded forms, so this caps the masker near 10 MB even when
 * more than 1,000 tasks end within the retention time (over 3 a second for 5 minutes).
 */
export const MAX_ENDED_SCOPES = 1_000;

export interface MaskerOptions {
  /** Milliseconds since the epoch; injectable so that tests expire scopes without sleeping. */
  now?: () => number;
  endedScopeRetentionMs?: number;
  maxEndedScopes?: number;
}

/** The secrets of one task: masked while it runs and for the retention time after `end()`. */
export interface SecretScope {
  /** Registers a resolved secret value; empty and whitespace-only values are ignored. */
  register(value: string): void;
  /** The task settled; its secrets stay masked for the retention time (or until the cap drops them). */
  end(): void;
}

export class Masker {
  private readonly index = new PatternIndex();
  /** Secret value → how many holders (the permanent set, each scope) still want it masked, and its forms. */
  private readonly holders = new Map<string, Held>();
  private readonly permanent = new Set<string>();
  /** Ended scopes, oldest end first (re-inserted when a late registration renews one). */
  private readonly ended = new Map<ScopeState, number>();
  private readonly now: () => number;
  private readonly retentionMs: number;
  private readonly maxEnded: number;

  constructor(options: MaskerOptions = {}) {
    this.now = options.now ?? Date.now;
    this.retentionMs = options.endedScopeRetentionMs ?? ENDED_SCOPE_RETENTION_MS;
    this.maxEnded = options.maxEndedScopes ?? MAX_ENDED_SCOPES;
    if (!(this.retentionMs >= 0) || !Number.isInteger(this.maxEnded) || this.maxEnded < 0) {
      throw new RangeError('Masker: endedScopeRetentionMs must be a number of milliseconds >= 0, and maxEndedScopes an integer >= 0.');
    }
  }

  /**
   * Registers a secret for the life of the process (the delegate's own token). Secrets a task
   * resolves go to that task's scope instead (`openScope`), so that they do not pile up.
   */
  register(value: string): void {
    if (!worthMasking(value) || this.permanent.has(value)) return;
    this.permanent.add(value);
    this.hold(value);
  }

  /** Opens the scope of one task attempt; the caller ends it when the attempt settles. */
  openScope(): SecretScope {
    const scope: ScopeState = { values: new Set(), running: true };
    return {
      register: (value) => this.registerIn(scope, value),
      end: () => {
        if (!scope.running) return;
        scope.running = false;
        this.markEnded(scope);
      },
    };
  }

  /** Distinct secret values currently masked. */
  get size(): number {
    this.expire();
    return this.holders.size;
  }

  /** Replaces every registered secret (raw, base64 and JSON-escaped forms) with `***`. */
  mask(text: string): string {
    this.expire();
    return this.index.replace(text, MASK);
  }

  /** Masks every string inside a JSON-like value (keys included); returns a new value. */
  maskDeep<T>(value: T): T {
    this.expire();
    return maskValue(value, this.index) as T;
  }

  /**
   * True when serialised bytes carry a secret. Binary results cannot be rewritten safely (protobuf
   * length prefixes would break), so the caller withholds them instead.
   */
  containsSecret(bytes: Uint8Array): boolean {
    this.expire();
    if (bytes.length === 0) return false;
    return this.index.occursIn(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1'), 'bytes');
  }

  private registerIn(scope: ScopeState, value: string): void {
    if (!worthMasking(value)) return;
    if (!scope.values.has(value)) {
      scope.values.add(value);
      this.hold(value);
    }
    // A task that keeps resolving after it settled (an executor ignoring its abort) is still
    // printing: its secrets' retention starts again from now.
    if (!scope.running) this.markEnded(scope);
  }

  private markEnded(scope: ScopeState): void {
    this.ended.delete(scope);
    this.ended.set(scope, this.now());
    while (this.ended.size > this.maxEnded) this.drop(this.ended.keys().next().value!);
    this.expire();
  }

  private hold(value: string): void {
    const held = this.holders.get(value);
    if (held !== undefined) {
      held.count++;
      return;
    }
    // Kept so that the drop removes exactly what was added; the strings are the index's own keys.
    const forms = encodedForms(value).map((form) => ({ text: form, bytes: byteView(form) }));
    this.holders.set(value, { count: 1, forms });
    for (const form of forms) {
      this.index.add(form.text, 'text');
      this.index.add(form.bytes, 'bytes');
    }
  }

  private release(value: string): void {
    const held = this.holders.get(value);
    if (held === undefined) return;
    if (--held.count > 0) return;
    this.holders.delete(value);
    for (const form of held.forms) {
      this.index.delete(form.text, 'text');
      this.index.delete(form.bytes, 'bytes');
    }
  }

  private drop(scope: ScopeState): void {
    this.ended.delete(scope);
    const values = scope.values;
    scope.values = new Set();
    for (const value of values) this.release(value);
  }

  /** Drops the scopes whose retention has passed; the oldest come first, so this stops at the first young one. */
  private expire(): void {
    if (this.ended.size === 0) return;
    const cutoff = this.now() - this.retentionMs;
    for (const [scope, endedAt] of this.ended) {
      if (endedAt > cutoff) return;
      this.drop(scope);
    }
  }
}

interface Held {
  count: number;
  readonly forms: ReadonlyArray<{ readonly text: string; readonly bytes: string }>;
}

interface ScopeState {
  values: Set<string>;
  running: boolean;
}

/** Empty and whitespace-only values are not secrets, and masking them would destroy every line. */
function worthMasking(value: string): boolean {
  return value.trim() !== '';
}

function maskValue(value: unknown, index: PatternIndex): unknown {
  if (typeof value === 'string') return index.replace(value, MASK);
  if (Array.isArray(value)) return value.map((v) => maskValue(v, index));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[index.replace(k, MASK)] = maskValue(v, index);
    return out;
  }
  return value;
}
