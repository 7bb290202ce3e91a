import type { FieldChange } from '../store/audit-records.js';
import { isSealedRef } from '../security/sealed-refs.js';
import { literalSecretKind, SECRET_REF } from '../security/literal-secrets.js';

/** Field names whose values are secrets whatever they look like (passwords, keys, tokens). */
const SECRET_FIELD = /pass(word|phrase)?|secret|token|api_?key|private/i;

function classify(name: string, value: unknown): FieldChange {
  const strings = Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : typeof value === 'string' ? [value] : [];
  if (strings.some(isSealedRef)) return { changed: true, kind: 'sealed' };
  if (strings.some((s) => SECRET_REF.test(s))) return { changed: true, kind: 'reference' };
  if (SECRET_FIELD.test(name) || strings.some((s) => literalSecretKind(s) !== null)) return { changed: true, kind: 'secret' };
  return { changed: true, to: value };
}

/**
 * The fields a request sets, by dotted path, as the audit trail keeps them: plain values as given,
 * while secret references, sealed values and anything secret-shaped are only named with their kind
 * (the value itself never reaches the trail, not even a reference's variable name).
 */
export function fieldDiff(body: unknown, prefix = ''): Record<string, FieldChange> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return {};
  const out: Record<string, FieldChange> = {};
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      if (SECRET_FIELD.test(key)) out[path] = { changed: true, kind: 'secret' };
      else Object.assign(out, fieldDiff(value, path));
    } else {
      out[path] = classify(key, value);
    }
  }
  return out;
}
