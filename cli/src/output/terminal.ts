import pc from 'picocolors';

type Colors = ReturnType<typeof pc.createColors>;

/**
 * What the terminal allows: colour and a spinner only when standard output is a terminal, never
 * with --no-color, NO_COLOR (any non-empty value, https://no-color.org) or TERM=dumb.
 */
export interface Terminal {
  readonly interactive: boolean;
  readonly color: Colors;
  out(text: string): void;
  err(text: string): void;
}

/** What the terminal needs of standard output and error. */
export interface OutputStream {
  readonly isTTY?: boolean;
  write(text: string): unknown;
}

export function terminal(options: { noColor?: boolean }, env: NodeJS.ProcessEnv = process.env, stdout: OutputStream = process.stdout, stderr: OutputStream = process.stderr): Terminal {
  const interactive = stdout.isTTY === true && env['TERM'] !== 'dumb';
  const colored = interactive && !options.noColor && !env['NO_COLOR'];
  return {
    interactive,
    color: pc.createColors(colored),
    out: (text) => void stdout.write(text),
    err: (text) => void stderr.write(text),
  };
}
