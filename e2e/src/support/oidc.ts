import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { Proc } from './process.js';

const SCRIPT = fileURLToPath(new URL('./oidc-provider.mjs', import.meta.url));

export interface TestAccount {
  email: string;
  email_verified: boolean;
  name?: string;
  groups?: string[];
}

export interface OidcProviderOptions {
  clients: Array<{ client_id: string; client_secret: string; redirect_uris: string[] }>;
  accounts: Record<string, TestAccount>;
  clockOffsetSeconds?: number;
  idTokenTtlSeconds?: number;
  misissueAudience?: Record<string, string>;
}

export interface OidcProvider {
  issuer: string;
  proc: Proc;
  stop(): Promise<void>;
}

/** Starts e2e/src/support/oidc-provider.mjs (the `oidc-provider` package) as its own process on a loopback port. */
export async function startOidcProvider(options: OidcProviderOptions): Promise<OidcProvider> {
  const port = await freePort();
  const proc = Proc.spawn('oidc-provider', [SCRIPT], { OIDC_TEST_PROVIDER: JSON.stringify({ port, ...options }), NODE_ENV: 'test' });
  await proc.waitForLine((l) => l.includes('oidc provider listening on'));
  return { issuer: `http://127.0.0.1:${port}`, proc, stop: () => proc.stop() };
}
