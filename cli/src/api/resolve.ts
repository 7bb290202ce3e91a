import { CliError, CliErrorCode } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

/**
 * One rule for "an X by name or id": an exact id wins; otherwise the name must match exactly one
 * item. Unknown and ambiguous names are errors that say what to do.
 */
export function pickByNameOrId<T extends { id: string; name: string }>(items: readonly T[], ref: string, what: string, listCommand: string): T {
  const byId = items.find((i) => i.id === ref);
  if (byId) return byId;
  const named = items.filter((i) => i.name === ref);
  if (named.length === 1) return named[0]!;
  if (named.length === 0) {
    throw new CliError(CliErrorCode.NOT_FOUND, `No ${what} named or with id "${ref}"; ${listCommand} lists them.`, ExitCode.NOT_FOUND, { ref });
  }
  throw new CliError(
    CliErrorCode.AMBIGUOUS_NAME,
    `${named.length} ${what}s are named "${ref}" (${named.map((i) => i.id).join(', ')}); name one by its id.`,
    ExitCode.USAGE,
    { ref, ids: named.map((i) => i.id) },
  );
}
