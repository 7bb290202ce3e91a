import type { Command } from 'commander';
import { ApiClient } from '../api/client.js';
import { resolveConnection } from '../config/connection.js';
import { terminal, type Terminal } from '../output/terminal.js';
import type { OutputFormat } from '../output/render.js';
import { EventStreamProgressSource } from '../progress/event-stream-progress-source.js';
import { PollingProgressSource, type ProgressSource } from '../progress/progress-source.js';

/** Options every command inherits from the program. */
export interface GlobalOptions {
  context?: string;
  /** false with --no-color. */
  color: boolean;
}

/** What a command's action works with, built from its own and the global options. */
export interface Runtime {
  readonly term: Terminal;
  readonly output: OutputFormat;
  api(): Promise<ApiClient>;
  progress(api: ApiClient): ProgressSource;
}

export function runtime(cmd: Command): Runtime {
  const opts = cmd.optsWithGlobals<GlobalOptions & { output?: OutputFormat }>();
  return {
    term: terminal({ noColor: opts.color === false }),
    output: opts.output ?? 'table',
    async api() {
      const connection = await resolveConnection({ context: opts.context });
      return new ApiClient(connection.url, connection.token);
    },
    progress: (api) => new EventStreamProgressSource(api, new PollingProgressSource(api)),
  };
}

/** Splits `a,b` flags; empty items are dropped. */
export const list = (value: string): string[] =>
  value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
