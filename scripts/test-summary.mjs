#!/usr/bin/env node
// Prints one plain closing line ("N passed, N failed, N skipped") from vitest's JSON report, so a
// CI log states what ran without reading vitest's own summary format. Exits non-zero when the report
// is missing or counts no test at all.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest-results.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  process.stderr.write(`test-summary: cannot read ${file}: ${err.message}\n`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = report.numFailedTests ?? 0;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
