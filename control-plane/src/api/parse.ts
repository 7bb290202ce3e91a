import type { z } from 'zod';
import { LITERAL_SECRET_MARK } from '../aws/account-schema.js';
import { AppError, ErrorCode } from '../errors.js';

/**
 * Validates input at the edge with a zod schema. Every problem is reported with its path, and a
 * literal secret where a reference belongs gets its own code so clients can explain it.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: string): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({
    path: i.path.map(String).join('.') || where,
    message: i.message.replace(LITERAL_SECRET_MARK, ''),
  }));
  const literal = parsed.error.issues.some((i) => i.message.startsWith(LITERAL_SECRET_MARK));
  const summary = issues.map((i) => `${i.path}: ${i.message}`).join('; ');
  if (literal) {
    return fail(ErrorCode.LITERAL_SECRET_REJECTED, `Refused: the request carries a literal secret. ${summary}`, issues);
  }
  return fail(ErrorCode.VALIDATION_FAILED, `Invalid ${where}: ${summary}`, issues);
}

function fail(code: ErrorCode, message: string, issues: Array<{ path: string; message: string }>): never {
  throw new AppError(code, message, { issues });
}
