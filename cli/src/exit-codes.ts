/**
 * The exit codes of `attache`, documented in `attache --help` and cli/README.md. Scripts branch on
 * them, so they never change meaning.
 */
export const ExitCode = {
  /** The command did what it was asked; a validation or task ended in success. */
  OK: 0,
  /** The API refused or failed the request, or a validation or task ended in failure. */
  FAILURE: 1,
  /** The command line is wrong: unknown command or option, missing argument, unusable input file. */
  USAGE: 2,
  /** Not logged in, the API key or session was refused (401) or not allowed (403), or a browser sign-in failed. */
  AUTH: 3,
  /** What was named does not exist (an account, task, token, context, or a route this control plane lacks). */
  NOT_FOUND: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  the API refused or failed the request, or a validation/task ended in failure
  2  usage error (unknown command or option, missing argument, unusable file)
  3  authentication: not logged in, the API key or session was refused or is not allowed,
     or a browser sign-in was refused, came back with another state or timed out
  4  not found: no such account, task, token, context or API route
  130 interrupted (Ctrl-C) while following a validation or task`;
