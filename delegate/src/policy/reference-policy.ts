import { TaskFailure } from '../executors/task-failure.js';
import { REFS_SETTING } from './reference-pattern.js';
import type { ReservedRules } from './reserved.js';
import { canonicalFilePattern } from './canonical-path.js';
import { matchesWildcard } from './wildcard.js';

/** Why a reference was refused; `details.reason` of SECRET_NOT_ALLOWED. */
export type NotAllowedReason = 'not-in-policy' | 'reserved' | 'field-not-allowed';

/**
 * Which `env:` and `file:` references this delegate resolves: those matching one of the
 * installer's patterns (ATTACHE_ALLOW_REFS) and no reserved rule. Every check here runs before
 * the secret is read, and the path checks before the file system is touched for a refused path,
 * so a refusal says nothing about what exists on the delegate. Sealed values are not checked here:
 * their associated data binds them to tenant, account and field.
 */
export class ReferencePolicy {
  constructor(
    readonly patterns: readonly string[],
    readonly reserved: ReservedRules,
  ) {}

  /** Refuses `env:NAME` unless allowed and not reserved. */
  checkEnv(reference: string, name: string): void {
    const why = this.reserved.env(name);
    if (why !== undefined) throw reservedFailure(reference, why);
    if (!this.allows(`env:${name}`)) throw notInPolicy(reference, this.patterns);
  }

  /**
   * Refuses a file reference by its lexically normalised absolute path. Never touches that path:
   * it is compared with the reserved places as written and as they resolve (`/run/secrets/...`
   * where /var/run links to /run), which are looked up, not the reference.
   */
  async checkPath(reference: string, normalised: string): Promise<void> {
    const why = this.reserved.path(normalised) ?? (await this.reserved.realPath(normalised));
    if (why !== undefined) throw reservedFailure(reference, why);
    if (!this.allows(`file:${normalised}`)) throw notInPolicy(reference, this.patterns);
  }

  /**
   * Refuses an allowed path whose real path (links and `..` resolved by the kernel) is reserved or
   * outside the patterns: a link inside an allowed directory cannot lead out of it. Kubernetes
   * secret volumes (`dir/key -> ..data/key -> ..2024_01_01/key`) stay inside `dir/*`.
   */
  async checkRealPath(reference: string, real: string): Promise<void> {
    const why = await this.reserved.realPath(real);
    if (why !== undefined) throw reservedFailure(reference, why);
    if (!(await this.allowsReal(`file:${real}`))) {
      throw notAllowed(
        reference,
        'not-in-policy',
        `Secret reference ${reference} leads (through a symbolic link) outside the patterns of ${REFS_SETTING}, so the delegate does not read it; allow the link's target too, or point the reference at the file itself.`,
      );
    }
  }

  /** Refuses a value that carries the delegate's own token; the value is never echoed. */
  checkValue(reference: string, value: string): void {
    if (this.reserved.holdsToken(value)) throw reservedFailure(reference, "it holds the delegate's own token");
  }

  private allows(candidate: string): boolean {
    return this.patterns.some((pattern) => matchesWildcard(pattern, candidate));
  }

  /** Real paths are compared with each pattern as written and with its directory part resolved. */
  private async allowsReal(candidate: string): Promise<boolean> {
    if (this.allows(candidate)) return true;
    for (const pattern of this.patterns) {
      if (pattern.startsWith('file:') && matchesWildcard(await canonicalFilePattern(pattern), candidate)) return true;
    }
    return false;
  }
}

function notAllowed(reference: string, reason: NotAllowedReason, message: string): TaskFailure {
  return new TaskFailure('SECRET_NOT_ALLOWED', message, { reference, setting: REFS_SETTING, reason });
}

function notInPolicy(reference: string, patterns: readonly string[]): TaskFailure {
  const allowed = patterns.length === 0 ? 'none: this delegate resolves sealed values only' : patterns.join(',');
  return notAllowed(
    reference,
    'not-in-policy',
    `Secret reference ${reference} is not allowed on this delegate: it matches no pattern of ${REFS_SETTING} (${allowed}); ask the delegate's installer to allow it, or use a sealed value.`,
  );
}

function reservedFailure(reference: string, why: string): TaskFailure {
  return notAllowed(reference, 'reserved', `Secret reference ${reference} is reserved (${why}): the delegate never resolves it, whatever ${REFS_SETTING} says.`);
}
