/**
 * Something the configuration names cannot be used at start-up: the database, the data directory,
 * a TLS file. The message is one sentence naming the setting and the reason, so the CLI prints it
 * as is and exits 2, like a configuration error: restarting with the same settings will not help.
 */
export class StartupError extends Error {
  constructor(
    readonly setting: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** The reason of a Node or driver error, without its stack: "ENOENT: no such file or directory, open 'x'" → "no such file or directory". */
export function reasonOf(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (typeof e?.code === 'string' && message.startsWith(`${e.code}: `)) return message.slice(e.code.length + 2).replace(/, \w+ '.*'$/, '');
  return message;
}

/** A database URL fit for a message: the password replaced. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}
