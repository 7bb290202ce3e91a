import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_GOODBYE_CODES, FATAL_GOODBYE_CODES, GoodbyeCode } from './goodbye.js';
import { FATAL_REFUSAL_CODES, RefusalCode } from './refusal.js';
import { WS_CLOSE } from './websocket.js';

/**
 * The wire vocabulary is only useful if it is complete: a code the control plane sends that is
 * missing here is one the delegate cannot match by constant and a reader of delegate.proto never
 * hears of. These tests read the control plane's source and the .proto file, so adding a code in
 * either place without the other fails here.
 */
const root = fileURLToPath(new URL('../..', import.meta.url));
const protoText = readFileSync(join(root, 'proto/attache/delegate/v1/delegate.proto'), 'utf8');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.conformance.ts') ? [path] : [];
  });
}

const controlPlaneSource = sourceFiles(join(root, 'control-plane/src')).map((path) => ({ path, text: readFileSync(path, 'utf8') }));

/** Every capture of `pattern` in the control plane's source, with the file it came from. */
function scan(pattern: RegExp): Array<{ value: string; path: string }> {
  return controlPlaneSource.flatMap(({ path, text }) => [...text.matchAll(pattern)].map((m) => ({ value: m[1]!, path })));
}

/** Codes the control plane puts in a Goodbye: literal arguments of close(), and GoodbyeCode references. */
function goodbyeCodesSent() {
  return [
    ...scan(/\.close\(\s*\{\s*code:\s*'([A-Z_]+)'/g),
    ...scan(/\.close\(\s*'([A-Z_]+)'/g),
    ...scan(/\bGoodbyeCode\.([A-Z_]+)/g),
  ];
}

describe('protocol vocabulary', () => {
  it('names every Goodbye code the control plane sends', () => {
    const sent = goodbyeCodesSent();
    // The scan must see the codes it is meant to police, or it would pass on an empty list.
    expect(sent.length).toBeGreaterThan(5);
    const known = new Set<string>(Object.values(GoodbyeCode));
    const missing = sent.filter((s) => !known.has(s.value)).map((s) => `${s.value} (${s.path.slice(root.length)})`);
    expect(missing).toEqual([]);
  });

  it('names every refusal and close code the control plane sends on a carrier', () => {
    // Literal arguments of reject(), and RefusalCode references.
    const refusals = [...scan(/\.reject\(\s*'([A-Z_]+)'/g), ...scan(/\bRefusalCode\.([A-Z_]+)/g)];
    expect(refusals.length).toBeGreaterThan(0);
    const refusalCodes = new Set<string>(Object.values(RefusalCode));
    const missing = refusals.filter((r) => !refusalCodes.has(r.value)).map((r) => `${r.value} (${r.path.slice(root.length)})`);
    expect(missing).toEqual([]);
    // The WebSocket carrier closes a refusal with the close code of the same name.
    expect(Object.values(RefusalCode).filter((code) => !(code in WS_CLOSE))).toEqual([]);
    const numeric = scan(/\b(?:ws|socket|closeSocket)\.?(?:close)?\(\s*(\d{4})\b/g);
    const closeValues = new Set<number>(Object.values(WS_CLOSE));
    expect(numeric.filter((n) => !closeValues.has(Number(n.value))).map((n) => `${n.value} (${n.path.slice(root.length)})`)).toEqual([]);
  });

  it('documents every Goodbye code in delegate.proto', () => {
    const goodbyeComment = protoText.slice(protoText.indexOf('message Goodbye {'), protoText.indexOf('string code = 1;', protoText.indexOf('message Goodbye {')));
    const undocumented = Object.values(GoodbyeCode).filter((code) => !new RegExp(`//\\s+${code}\\s`).test(goodbyeComment));
    expect(undocumented).toEqual([]);
  });

  it('documents every refusal code in delegate.proto', () => {
    const service = protoText.slice(protoText.indexOf('service DelegateService {'), protoText.indexOf('rpc Connect('));
    expect(Object.values(RefusalCode).filter((code) => !new RegExp(`\\b${code} \\(`).test(service))).toEqual([]);
  });

  it('documents every WebSocket close code in delegate.proto', () => {
    const undocumented = Object.entries(WS_CLOSE).filter(([name, value]) => !protoText.includes(`${value} ${name}`));
    expect(undocumented).toEqual([]);
  });

  it('treats only known refusal codes as fatal', () => {
    for (const code of FATAL_REFUSAL_CODES) expect(Object.values(RefusalCode)).toContain(code);
  });

  it('classifies only known codes as fatal or configuration errors, and no code as both', () => {
    const known = new Set<string>(Object.values(GoodbyeCode));
    for (const code of [...FATAL_GOODBYE_CODES, ...CONFIGURATION_GOODBYE_CODES]) expect(known.has(code)).toBe(true);
    expect([...FATAL_GOODBYE_CODES].filter((code) => CONFIGURATION_GOODBYE_CODES.has(code))).toEqual([]);
  });
});
