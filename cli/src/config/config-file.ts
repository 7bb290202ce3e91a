import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { CliError, CliErrorCode } from '../errors.js';
import { ExitCode } from '../exit-codes.js';

/**
 * A browser sign-in's credential (`attache login --oidc`): the user's session, sent as a bearer
 * token, with what the control plane said about it (who, which tenant, when it ends).
 */
const sessionSchema = z
  .object({
    token: z.string().min(1),
    user: z.string(),
    tenant: z.string(),
    role: z.string(),
    expiresAt: z.string(),
    idleTimeoutSeconds: z.number().int(),
  })
  .strict();

/**
 * Contexts, like kubectl's: named pairs of control-plane URL and credential (an API key, or the
 * session of a browser sign-in), one of them current. The file holds credentials, so it is written
 * 0600 in a 0700 directory, atomically (a crash never leaves half a file), and its content is
 * checked on every read.
 */
const contextSchema = z
  .object({
    url: z.url({ protocol: /^https?$/ }),
    apiKey: z.string().min(1).optional(),
    session: sessionSchema.optional(),
    /** What login learned about the tenant (GET /v1/aws/external-id), shown by `context list`. */
    externalId: z.string().optional(),
    createdAt: z.string().optional(),
  })
  .strict()
  .refine((c) => (c.apiKey === undefined) !== (c.session === undefined), { message: 'a context holds either apiKey or session' });

const configSchema = z
  .object({
    currentContext: z.string().nullable().default(null),
    contexts: z.record(z.string(), contextSchema).default({}),
  })
  .strict();

export type Context = z.infer<typeof contextSchema>;
export type ContextSession = z.infer<typeof sessionSchema>;

/** The bearer credential of a context. */
export const contextCredential = (c: Context): string => c.apiKey ?? c.session!.token;
export type CliConfig = z.infer<typeof configSchema>;

/** Names a person types and a shell completes: no spaces, nothing a path would misread. */
export const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,62}$/;

/** `ATTACHE_CONFIG`, else `$XDG_CONFIG_HOME/attache/config.json`, else `~/.config/attache/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env['ATTACHE_CONFIG']) return env['ATTACHE_CONFIG'];
  const base = env['XDG_CONFIG_HOME'] || join(homedir(), '.config');
  return join(base, 'attache', 'config.json');
}

export async function readConfig(path: string): Promise<CliConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { currentContext: null, contexts: {} };
    throw new CliError(CliErrorCode.CONFIG_INVALID, `Cannot read ${path}: ${(err as Error).message}.`, ExitCode.USAGE, { path }, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CliError(CliErrorCode.CONFIG_INVALID, `${path} is not JSON (${(err as Error).message}); fix it or remove it and log in again.`, ExitCode.USAGE, { path }, { cause: err });
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
    throw new CliError(CliErrorCode.CONFIG_INVALID, `${path} is not an attache configuration (${problems}); fix it or remove it and log in again.`, ExitCode.USAGE, { path });
  }
  return parsed.data;
}

/**
 * Writes the whole file through a temporary sibling and a rename, mode 0600 from the first byte.
 * The default directory (…/attache) is ours, so its mode is set to 0700 even if it existed; a
 * directory named through ATTACHE_CONFIG is only created 0700 when missing, never changed.
 */
export async function writeConfig(path: string, config: CliConfig, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!env['ATTACHE_CONFIG']) await chmod(dir, 0o700);
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temp, `${JSON.stringify(configSchema.parse(config), null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
