import { entryProblems } from './entry-limits.js';
import { MAX_HOST_LENGTH } from './wildcard.js';

/** The setting that names where a delegate may connect on an account's behalf. */
export const ENDPOINTS_SETTING = 'ATTACHE_ALLOW_ENDPOINTS';

/** One allowed origin: scheme, host (with `*` wildcards) and port, nothing else. */
export interface OriginPattern {
  readonly scheme: 'http' | 'https';
  /** Lower-cased; `*` matches any run of characters without `/` or `:`. */
  readonly host: string;
  readonly port: number;
}

export const DEFAULT_PORTS = { http: 80, https: 443 } as const;

/** `https://host` for the default port, `https://host:8443` otherwise: the WHATWG origin form. */
export function formatOrigin(origin: OriginPattern): string {
  return `${origin.scheme}://${origin.host}${origin.port === DEFAULT_PORTS[origin.scheme] ? '' : `:${origin.port}`}`;
}

/**
 * Parses one entry of ATTACHE_ALLOW_ENDPOINTS: `https://vpce-0a1.sts.us-east-1.vpce.amazonaws.com`,
 * `https://*.internal.example:8443`, `http://127.0.0.1:5000`. An origin only: a path, query,
 * fragment or user info would suggest a narrower rule than the one enforced, so they are errors.
 */
export function parseOriginPattern(entry: string): OriginPattern | string {
  const match = /^(https?):\/\/([^/?#@]*)\/?$/i.exec(entry);
  if (!match) {
    return /^(https?):\/\//i.test(entry)
      ? `"${entry}" must be an origin only (scheme://host[:port]), without path, query or user info`
      : `"${entry}" must start with https:// or http://`;
  }
  const scheme = match[1]!.toLowerCase() as 'http' | 'https';
  const authority = match[2]!;
  // IPv6 literal [..] or a name/IPv4 address, then an optional port.
  const parts = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(authority);
  if (!parts) return `"${entry}" has no valid host[:port]`;
  const port = parts[2] === undefined ? DEFAULT_PORTS[scheme] : Number(parts[2]);
  if (port < 1 || port > 65535) return `"${entry}" has a port outside 1..65535`;
  const host = parts[1]!.toLowerCase();
  if (host.length > MAX_HOST_LENGTH) return `"${entry}" has a host longer than ${MAX_HOST_LENGTH} characters`;
  if (!host.startsWith('[') && !/^[a-z0-9*._-]+$/.test(host)) return `"${entry}" has characters that cannot be in a host name`;
  // What the WHATWG parser makes of the host (IPv4 forms, IPv6 compression), so patterns compare with parsed URLs.
  const normalised = host.includes('*') ? host : hostOf(`${scheme}://${host}`);
  if (normalised === undefined) return `"${entry}" has an invalid host`;
  return { scheme, host: normalised, port };
}

/** The host the WHATWG URL parser sees in `url`, or undefined. */
function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname;
  } catch {
    return undefined;
  }
}

/** Parses the comma-separated list; entries deduplicated and sorted by their printed form. */
export function parseOriginPatterns(value: string): { origins: OriginPattern[] } | { errors: string[] } {
  const entries = value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const errors: string[] = entryProblems(entries);
  const byText = new Map<string, OriginPattern>();
  for (const entry of entries) {
    const parsed = parseOriginPattern(entry);
    if (typeof parsed === 'string') errors.push(parsed);
    else byText.set(formatOrigin(parsed), parsed);
  }
  if (errors.length > 0) return { errors };
  return { origins: [...byText.keys()].sort().map((text) => byText.get(text)!) };
}
