import { resolve } from 'node:path';
import { canonicalPath } from './canonical-path.js';

/**
 * What a delegate never resolves, whatever ATTACHE_ALLOW_REFS says: its own settings and token,
 * its own key, state and trust files, the platform's service-account tokens and the kernel's
 * pseudo file systems. An installer who writes `file:/*` still cannot hand these to a control plane.
 */
export interface ReservedContext {
  /** The delegate's token: a value that contains it is never resolved. */
  readonly token?: string | undefined;
  readonly keyFiles?: readonly string[];
  readonly stateDir?: string | undefined;
  readonly caFile?: string | undefined;
  /** Where AWS_WEB_IDENTITY_TOKEN_FILE and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE are read, at each check (they may be set after start). */
  readonly env?: NodeJS.ProcessEnv;
}

interface PathRule {
  readonly path: string;
  /** Everything below `path` too. */
  readonly subtree: boolean;
  readonly why: string;
}

interface EnvRule {
  /** A name, or a prefix when it ends with `*`. */
  readonly name: string;
  readonly why: string;
}

const ENV_RULES: readonly EnvRule[] = [
  { name: 'ATTACHE_*', why: "the delegate's own settings, its token among them" },
  { name: 'AWS_CONTAINER_AUTHORIZATION_TOKEN', why: 'the Pod Identity / ECS container credentials token' },
];

const PLATFORM_PATHS: readonly PathRule[] = [
  { path: '/var/run/secrets/kubernetes.io', subtree: true, why: 'Kubernetes service-account tokens' },
  { path: '/var/run/secrets/eks.amazonaws.com', subtree: true, why: 'EKS (IRSA) service-account tokens' },
  { path: '/var/run/secrets/pods.eks.amazonaws.com', subtree: true, why: 'EKS Pod Identity tokens' },
  { path: '/proc', subtree: true, why: 'kernel pseudo file system' },
  { path: '/sys', subtree: true, why: 'kernel pseudo file system' },
  { path: '/dev', subtree: true, why: 'devices' },
];

/** Variables whose files are bearer tokens of the pod's identity. */
const TOKEN_FILE_VARIABLES = ['AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE'] as const;

export class ReservedRules {
  private readonly ownPaths: readonly PathRule[];

  constructor(private readonly context: ReservedContext = {}) {
    // Relative settings are relative to where the delegate started, as the delegate itself reads them.
    const own: PathRule[] = [];
    for (const keyFile of context.keyFiles ?? []) own.push({ path: resolve(keyFile), subtree: false, why: "the delegate's group key (ATTACHE_KEY_FILE)" });
    if (context.stateDir) own.push({ path: resolve(context.stateDir), subtree: true, why: "the delegate's state directory (ATTACHE_STATE_DIR)" });
    if (context.caFile) own.push({ path: resolve(context.caFile), subtree: false, why: "the delegate's trust root (ATTACHE_CA_FILE)" });
    this.ownPaths = own;
  }

  /** Why `name` is reserved, or undefined. */
  env(name: string): string | undefined {
    return ENV_RULES.find((rule) => (rule.name.endsWith('*') ? name.startsWith(rule.name.slice(0, -1)) : name === rule.name))?.why;
  }

  /** Why the lexically normalised absolute `path` is reserved, or undefined. Touches no file. */
  path(path: string): string | undefined {
    return this.pathRules().find((rule) => covers(rule, path))?.why;
  }

  /**
   * Why the real path (symbolic links resolved) of an allowed reference is reserved, or undefined.
   * Compares with each rule as written and with the rule's own real path, so `/run/secrets/...`
   * is caught when /var/run links to /run, and a key file that is itself a link is caught by its target.
   */
  async realPath(real: string): Promise<string | undefined> {
    for (const rule of this.pathRules()) {
      if (covers(rule, real) || covers({ ...rule, path: await canonicalPath(rule.path) }, real)) return rule.why;
    }
    return undefined;
  }

  /** Whether a resolved value carries the delegate's own token. */
  holdsToken(value: string): boolean {
    const token = this.context.token;
    return token !== undefined && token !== '' && value.includes(token);
  }

  /** The rules in words, for `attache-delegate policy` and the start-up log. */
  describe(): string[] {
    return [
      ...ENV_RULES.map((rule) => `env:${rule.name} (${rule.why})`),
      "any value containing the delegate's own token",
      ...this.pathRules().map((rule) => `file:${rule.path}${rule.subtree ? '/**' : ''} (${rule.why})`),
      ...TOKEN_FILE_VARIABLES.filter((v) => !this.tokenFiles().some((r) => r.why.includes(v))).map((v) => `the file named by ${v}, when set`),
    ];
  }

  private pathRules(): PathRule[] {
    return [...this.ownPaths, ...PLATFORM_PATHS, ...this.tokenFiles()];
  }

  private tokenFiles(): PathRule[] {
    const env = this.context.env ?? process.env;
    return TOKEN_FILE_VARIABLES.flatMap((variable) => {
      const file = env[variable];
      return file ? [{ path: resolve(file), subtree: false, why: `the file named by ${variable}` }] : [];
    });
  }
}

function covers(rule: PathRule, path: string): boolean {
  if (path === rule.path) return true;
  return rule.subtree && path.startsWith(rule.path === '/' ? '/' : `${rule.path}/`);
}
