import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AGENT_DEFAULTS } from './agent-options.js';
import { carrierFor, registeredSchemes } from './carriers/index.js';
import { LOG_LEVELS, type LogLevel } from './log.js';
import { DelegatePolicy } from './policy/delegate-policy.js';
import { parseOriginPatterns, type OriginPattern } from './policy/origin-pattern.js';
import { DEFAULT_ALLOW_REFS, parseReferencePatterns } from './policy/reference-pattern.js';

/**
 * Delegate configuration, parsed and validated once at the edge from the environment and the
 * command-line flags (flags win). Everything downstream receives the typed `DelegateConfig`.
 */
export interface DelegateConfig {
  /**
   * Control-plane addresses, tried in turn (the delegate moves to the next after a failed connect
   * or a lost connection); each scheme chooses its carrier: grpc://, grpcs://, ws://, wss://.
   */
  urls: URL[];
  token: string;
  /** Group name of this delegate; also one of its tags. */
  name: string;
  tags: string[];
  maxConcurrency: number;
  /** Path and contents of the PEM trust root for TLS carriers. */
  caFile?: string;
  ca?: Buffer;
  /** Where the health endpoint listens; no endpoint when absent. */
  healthAddr?: { host: string; port: number };
  drainGraceSeconds: number;
  logLevel: LogLevel;
  /** Group key files for sealed values, current first (ATTACHE_KEY_FILE, comma-separated). */
  keyFiles: string[];
  /** Without key files, the group key is generated into (and later read from) this directory. */
  stateDir?: string;
  /**
   * Secret references this delegate resolves (ATTACHE_ALLOW_REFS): `env:` and `file:` patterns, `*`
   * any run of characters including `/`. Default `env:AWS_*,file:/var/run/secrets/attache/*`;
   * `none` resolves only sealed values.
   */
  allowRefs: string[];
  /**
   * Origins an account's endpoint overrides and SCAP/CAP portals may name (ATTACHE_ALLOW_ENDPOINTS),
   * `*` in a host any run without `/` or `:`. Default none: overrides only to the partition's own
   * endpoints over HTTPS, no portal.
   */
  allowEndpoints: OriginPattern[];
  /** The policy built from the settings above, the token and the delegate's own files. */
  policy: DelegatePolicy;
}

/** Raw flag values as commander yields them (strings, or undefined when not given). */
export interface ConfigFlags {
  url?: string;
  token?: string;
  name?: string;
  tags?: string;
  maxConcurrency?: string;
  caFile?: string;
  healthAddr?: string;
  drainGraceSeconds?: string;
  logLevel?: string;
  keyFile?: string;
  stateDir?: string;
  allowRefs?: string;
  allowEndpoints?: string;
}

type Key = keyof ConfigFlags;

/** Environment variable and flag of each setting, used to name the source in error messages. */
export const CONFIG_SOURCES: Record<Key, { env: string; flag: string }> = {
  url: { env: 'ATTACHE_URL', flag: '--url' },
  token: { env: 'ATTACHE_TOKEN', flag: '--token' },
  name: { env: 'ATTACHE_DELEGATE_NAME', flag: '--name' },
  tags: { env: 'ATTACHE_TAGS', flag: '--tags' },
  maxConcurrency: { env: 'ATTACHE_MAX_CONCURRENCY', flag: '--max-concurrency' },
  caFile: { env: 'ATTACHE_CA_FILE', flag: '--ca-file' },
  healthAddr: { env: 'ATTACHE_HEALTH_ADDR', flag: '--health-addr' },
  drainGraceSeconds: { env: 'ATTACHE_DRAIN_GRACE_SECONDS', flag: '--drain-grace-seconds' },
  logLevel: { env: 'ATTACHE_LOG_LEVEL', flag: '--log-level' },
  keyFile: { env: 'ATTACHE_KEY_FILE', flag: '--key-file' },
  stateDir: { env: 'ATTACHE_STATE_DIR', flag: '--state-dir' },
  allowRefs: { env: 'ATTACHE_ALLOW_REFS', flag: '--allow-refs' },
  allowEndpoints: { env: 'ATTACHE_ALLOW_ENDPOINTS', flag: '--allow-endpoints' },
};

/** Tag and name charset: DNS-label-like, so names are safe in subjects, URLs and metrics labels. */
const LABEL = /^[a-z0-9][a-z0-9-]{0,62}$/;

const oneUrl = (value: string, ctx: z.RefinementCtx): URL | undefined => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `not a URL: "${value}" (expected e.g. grpcs://attache.example.com:443)` });
    return undefined;
  }
  const carrier = carrierFor(url.protocol);
  if (!carrier) {
    const supported = registeredSchemes().map((s) => `${s}://`).join(', ');
    ctx.addIssue({ code: 'custom', message: `unsupported scheme ${url.protocol}// (supported: ${supported})` });
    return undefined;
  }
  if (url.hostname === '') {
    ctx.addIssue({ code: 'custom', message: `missing host in "${value}"` });
    return undefined;
  }
  if (url.port === '' && carrier.defaultPort === undefined) {
    ctx.addIssue({ code: 'custom', message: `missing port in "${value}" (expected ${url.protocol}//host:port)` });
    return undefined;
  }
  if (url.username !== '' || url.password !== '') {
    ctx.addIssue({ code: 'custom', message: 'credentials do not belong in the URL; use ATTACHE_TOKEN' });
    return undefined;
  }
  return url;
};

/** One URL or a comma-separated list (any mix of carriers), e.g. to name several control-plane replicas. */
const urlsSchema = z.string().transform((value, ctx) => {
  const parts = value.split(',').map((u) => u.trim()).filter((u) => u !== '');
  if (parts.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'is required' });
    return z.NEVER;
  }
  const urls = parts.map((part) => oneUrl(part, ctx));
  return urls.every((u): u is URL => u !== undefined) ? urls : z.NEVER;
});

const labelSchema = z.string().regex(LABEL, 'must match [a-z0-9][a-z0-9-]{0,62}');

const tagsSchema = z.string().transform((value, ctx) => {
  const tags = [...new Set(value.split(',').map((t) => t.trim()).filter((t) => t !== ''))];
  for (const tag of tags) {
    if (!LABEL.test(tag)) ctx.addIssue({ code: 'custom', message: `tag "${tag}" must match [a-z0-9][a-z0-9-]{0,62}` });
  }
  return tags;
});

const intSchema = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `must be a whole number from ${min} to ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const hostPortSchema = z.string().transform((value, ctx) => {
  // [v6]:port, host:port or :port (all interfaces).
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected host:port (e.g. 0.0.0.0:8080), got "${value}"` });
    return z.NEVER;
  }
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
});

const allowRefsSchema = z.string().transform((value, ctx) => {
  const parsed = parseReferencePatterns(value);
  if ('errors' in parsed) {
    for (const message of parsed.errors) ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  }
  return parsed.patterns;
});

const allowEndpointsSchema = z.string().transform((value, ctx) => {
  const parsed = parseOriginPatterns(value);
  if ('errors' in parsed) {
    for (const message of parsed.errors) ctx.addIssue({ code: 'custom', message });
    return z.NEVER;
  }
  return parsed.origins;
});

/** The settings the policy is made of: also all that `attache-delegate policy` needs. */
const policyShape = {
  allowRefs: allowRefsSchema.default([...DEFAULT_ALLOW_REFS]),
  allowEndpoints: allowEndpointsSchema.default([]),
  caFile: z.string().min(1).optional(),
  // Several files during a rotation: the first is published as current, all of them decrypt.
  keyFile: z
    .string()
    .transform((v) => v.split(',').map((p) => p.trim()).filter((p) => p !== ''))
    .pipe(z.array(z.string().startsWith('/', 'key files must be absolute paths')))
    .default([]),
  stateDir: z.string().min(1).optional(),
};

const schema = z.object({
  ...policyShape,
  url: urlsSchema,
  token: z.string().min(1, 'is required'),
  name: labelSchema,
  tags: tagsSchema.default([]),
  maxConcurrency: intSchema(1, 1000).default(AGENT_DEFAULTS.maxConcurrency),
  healthAddr: hostPortSchema.optional(),
  // A day is far beyond any sane grace; the bound catches a value given in milliseconds by mistake.
  drainGraceSeconds: intSchema(0, 86_400).default(AGENT_DEFAULTS.drainGraceMs / 1000),
  logLevel: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
});

const policySchema = z.object(policyShape);

export type ConfigResult = { ok: true; config: DelegateConfig } | { ok: false; errors: string[] };

/** Flags over the environment, with the words that name where each value came from. */
function gather(env: NodeJS.ProcessEnv, flags: ConfigFlags) {
  const raw: Partial<Record<Key, string>> = {};
  const origin: Partial<Record<Key, 'env' | 'flag'>> = {};
  for (const key of Object.keys(CONFIG_SOURCES) as Key[]) {
    const flag = flags[key];
    const fromEnv = env[CONFIG_SOURCES[key].env];
    // An empty variable is how shells and manifests say "unset".
    if (flag !== undefined) {
      raw[key] = flag;
      origin[key] = 'flag';
    } else if (fromEnv !== undefined && fromEnv !== '') {
      raw[key] = fromEnv;
      origin[key] = 'env';
    }
  }
  const describe = (key: Key): string => {
    const { env: variable, flag } = CONFIG_SOURCES[key];
    if (origin[key] === 'flag') return flag;
    if (origin[key] === 'env') return variable;
    return `${variable} (or ${flag})`;
  };
  const issues = (error: z.ZodError): string[] =>
    error.issues.map((issue) => {
      const key = issue.path[0] as Key;
      const message = raw[key] === undefined && issue.code === 'invalid_type' ? 'is required' : issue.message;
      return `${describe(key)}: ${message}`;
    });
  return { raw, describe, issues };
}

export type PolicyConfigResult = { ok: true; policy: DelegatePolicy } | { ok: false; errors: string[] };

/**
 * The delegate policy alone (ATTACHE_ALLOW_REFS, ATTACHE_ALLOW_ENDPOINTS and the delegate's own
 * files it reserves), for `attache-delegate policy`: works without a URL or token.
 */
export function loadPolicyConfig(env: NodeJS.ProcessEnv = process.env, flags: ConfigFlags = {}): PolicyConfigResult {
  const { raw, issues } = gather(env, flags);
  const parsed = policySchema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: issues(parsed.error) };
  const { allowRefs, allowEndpoints, keyFile, stateDir, caFile } = parsed.data;
  return { ok: true, policy: new DelegatePolicy({ allowRefs, allowEndpoints, keyFiles: keyFile, stateDir, caFile }) };
}

/**
 * Merges flags over the environment and validates. Returns every problem at once, one line each,
 * naming the flag or variable the bad value came from. Never echoes the token.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: ConfigFlags = {}): ConfigResult {
  const { raw, describe, issues } = gather(env, flags);
  const errors: string[] = [];
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { ok: false, errors: issues(parsed.error) };

  const { url: urls, keyFile: keyFiles, ...rest } = parsed.data;
  const policy = new DelegatePolicy({ ...rest, keyFiles, token: rest.token });
  const config: DelegateConfig = { ...rest, urls, keyFiles, caFile: parsed.data.caFile, healthAddr: parsed.data.healthAddr, policy };
  // The group name is always a tag: it is how a task is pinned to one gateway.
  if (!config.tags.includes(config.name)) config.tags = [config.name, ...config.tags];

  if (config.caFile !== undefined) {
    if (!config.urls.some((url) => carrierFor(url.protocol)?.tls)) {
      const schemes = [...new Set(config.urls.map((url) => `${url.protocol}//`))].join(', ');
      errors.push(`${describe('caFile')}: only applies to TLS URLs, but ${describe('url')} is ${schemes}`);
    } else {
      try {
        config.ca = readFileSync(config.caFile);
        if (!config.ca.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) {
          errors.push(`${describe('caFile')}: ${config.caFile} holds no PEM certificate`);
        }
      } catch (err) {
        errors.push(`${describe('caFile')}: cannot read ${config.caFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      }
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, config };
}
