#!/usr/bin/env node
// The npm registry these machines reach serves only some platforms of packages that ship one
// binary per platform (rollup, turbo, esbuild...). npm records only the ones it could resolve, then
// `npm ci` refuses the lock because other platforms' optional dependencies are "missing".
// This drops, from each lock entry, optional dependencies that have no entry of their own — they
// are optional by definition and were never installable here — so `npm ci` works on a fresh
// machine. Run after any `npm install` that changes package-lock.json (npm run lock).
import { readFileSync, writeFileSync } from 'node:fs';

const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
const packages = lock.packages ?? {};

function resolves(fromPath, name) {
  // Node resolution inside the lock: the entry's own node_modules, then each ancestor's, then the root's.
  let base = fromPath;
  for (;;) {
    if (packages[`${base ? `${base}/` : ''}node_modules/${name}`]) return true;
    if (base === '') return false;
    const idx = base.lastIndexOf('/node_modules/');
    base = idx >= 0 ? base.slice(0, idx) : '';
  }
}

let pruned = 0;
for (const [path, entry] of Object.entries(packages)) {
  const optional = entry.optionalDependencies;
  if (!optional) continue;
  for (const name of Object.keys(optional)) {
    if (!resolves(path, name)) {
      delete optional[name];
      pruned++;
    }
  }
  if (Object.keys(optional).length === 0) delete entry.optionalDependencies;
}
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
process.stderr.write(`prune-lockfile: removed ${pruned} unresolvable optional dependencies\n`);
