/**
 * Masks secret values out of everything that leaves the delegate: logs, task results, error
 * messages. A secret can leak verbatim, base64-encoded (HTTP Basic auth, Kubernetes secrets, SDK
 * debug output) or JSON-escaped (inside a log line), so each registered value is matched in all
 * of those forms.
 */
export const MASK = '***';

/**
 * Base64 fragments shorter than this are not masked on their own: a 2-character fragment would
 * match almost any base64 text and destroy unrelated output while hiding nothing useful.
 */
const MIN_FRAGMENT_LENGTH = 6;

export class Masker {
  private readonly secrets = new Set<string>();
  private readonly forms = new Set<string>();
  private pattern: RegExp | undefined;

  /** Registers a secret value. Empty and whitespace-only values are ignored (they would match everything). */
  register(value: string): void {
    if (value.trim() === '' || this.secrets.has(value)) return;
    this.secrets.add(value);
    for (const form of encodedForms(value)) this.forms.add(form);
    // Longest first so that a full encoding is replaced before any of its fragments could split it.
    const sorted = [...this.forms].sort((a, b) => b.length - a.length);
    this.pattern = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
  }

  get size(): number {
    return this.secrets.size;
  }

  /** Replaces every registered secret (raw, base64 and JSON-escaped forms) with `***`. */
  mask(text: string): string {
    if (this.pattern === undefined || text === '') return text;
    return text.replace(this.pattern, MASK);
  }

  /** Masks every string inside a JSON-like value (keys included); returns a new value. */
  maskDeep<T>(value: T): T {
    return maskValue(value, this) as T;
  }

  /**
   * True when serialised bytes carry a secret. Binary results cannot be rewritten safely (protobuf
   * length prefixes would break), so the caller withholds them instead.
   */
  containsSecret(bytes: Uint8Array): boolean {
    if (this.forms.size === 0 || bytes.length === 0) return false;
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (const form of this.forms) if (buf.includes(form, 0, 'utf8')) return true;
    return false;
  }
}

function maskValue(value: unknown, masker: Masker): unknown {
  if (typeof value === 'string') return masker.mask(value);
  if (Array.isArray(value)) return value.map((v) => maskValue(v, masker));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[masker.mask(k)] = maskValue(v, masker);
    return out;
  }
  return value;
}

/**
 * The raw value, its JSON-escaped form, its base64/base64url encodings, and the stable middle of
 * its base64 encoding at each of the three byte alignments: a secret embedded in a larger encoded
 * blob (`user:secret` in Basic auth) only shares those aligned fragments with its own encoding.
 */
function encodedForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const jsonEscaped = JSON.stringify(value).slice(1, -1);
  forms.add(jsonEscaped);
  const bytes = Buffer.from(value, 'utf8');
  const b64 = bytes.toString('base64');
  forms.add(b64);
  forms.add(bytes.toString('base64url'));
  forms.add(b64.replace(/=+$/, ''));
  for (let offset = 0; offset < 3; offset++) {
    const shifted = Buffer.concat([Buffer.alloc(offset), bytes]).toString('base64');
    // Characters whose 6 bits come only from the secret's bytes, whatever surrounds it.
    const first = Math.ceil((offset * 8) / 6);
    const end = Math.floor(((offset + bytes.length) * 8) / 6);
    const fragment = shifted.slice(first, end);
    if (fragment.length >= MIN_FRAGMENT_LENGTH) {
      forms.add(fragment);
      forms.add(fragment.replace(/\+/g, '-').replace(/\//g, '_'));
    }
  }
  forms.delete('');
  return [...forms];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
