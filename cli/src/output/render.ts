import { Option } from 'commander';
import YAML from 'yaml';
import type { Terminal } from './terminal.js';

export const OUTPUT_FORMATS = ['table', 'json', 'yaml'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** `-o json|yaml|table`, the same on every command that prints data. */
export const outputOption = (): Option =>
  new Option('-o, --output <format>', 'output format: table for people, json or yaml for scripts').choices(OUTPUT_FORMATS).default('table');

/**
 * Prints what the API answered: for scripts as JSON or YAML, unchanged; for people through the
 * command's own view (a table, fields).
 */
export function render(term: Terminal, format: OutputFormat, data: unknown, forPeople: () => string): void {
  if (format === 'json') term.out(`${JSON.stringify(data, null, 2)}\n`);
  else if (format === 'yaml') term.out(YAML.stringify(data));
  else term.out(forPeople());
}
