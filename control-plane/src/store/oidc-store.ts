import type { Role } from './identity-records.js';
import type { Tenant } from './records.js';

/**
 * A tenant's OpenID Connect identity provider. The client secret is kept sealed (AES-256-GCM under
 * the control plane's OIDC key, bound to the tenant): a database dump does not give it away.
 */
export interface OidcConfigRecord {
  tenantId: string;
  /** The issuer identifier; discovery is `${issuer}/.well-known/openid-configuration`. */
  issuer: string;
  clientId: string;
  /** Sealed client secret (see security/secret-box.ts); null: a public client (PKCE only). */
  clientSecretSealed: string | null;
  /** Lower-cased domains; an email must end in `@` + one of them. */
  allowedEmailDomains: string[];
  /** Scopes asked for besides `openid email profile` (e.g. `groups`, where the provider releases the role claim under one). */
  scopes: string[];
  /** The ID token claim holding group or role names (a string or an array of strings). */
  roleClaim: string;
  /** Claim value → role; the highest matching role wins. */
  roleMapping: Record<string, Role>;
  /** The role of a person no mapping matches; null: such a person is refused. */
  defaultRole: Role | null;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * One sign-in in progress, between `/v1/session/oidc/start` and its callback. Keyed by the state's
 * hash, bound to the browser that started it (the hash of a cookie only that browser holds), used
 * once (taken = deleted), and short-lived.
 */
export interface OidcLoginRecord {
  stateHash: string;
  tenantId: string;
  browserHash: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  /** Set when the sign-in was started by the CLI (RFC 8252 native-app flow); null for the console. */
  cli: CliBinding | null;
  createdAt: Date;
  expiresAt: Date;
}

/**
 * What a CLI sign-in binds its one-time code to: the loopback redirect it listens on, its PKCE S256
 * challenge and its own state (echoed to the loopback, checked by the CLI).
 */
export interface CliBinding {
  redirectUri: string;
  codeChallenge: string;
  state: string;
}

/**
 * The one-time code a CLI sign-in hands to the loopback redirect: stored by its hash, for the
 * person the provider signed in, bound to the CLI's challenge and redirect; taken (deleted) by the
 * first exchange, whatever its outcome, and short-lived.
 */
export interface CliCodeRecord {
  codeHash: string;
  tenantId: string;
  userId: string;
  codeChallenge: string;
  redirectUri: string;
  createdAt: Date;
  expiresAt: Date;
}

/** Every backend implements it and passes the OIDC cases of `runIdentityStoreConformance`. */
export interface OidcStore {
  /** A sign-in names its tenant (by name, in the start URL) before anyone is authenticated. */
  findTenantByName(name: string): Promise<Tenant | null>;
  /** Inserts or replaces the tenant's configuration (createdAt of the first one stands). */
  putOidcConfig(config: OidcConfigRecord): Promise<OidcConfigRecord>;
  getOidcConfig(tenantId: string): Promise<OidcConfigRecord | null>;
  /** False when the tenant had none. */
  deleteOidcConfig(tenantId: string): Promise<boolean>;

  createOidcLogin(login: OidcLoginRecord): Promise<void>;
  /** Deletes and returns the login in one step, whatever its expiry: a second take gets null. */
  takeOidcLogin(stateHash: string): Promise<OidcLoginRecord | null>;
  /** Deletes logins that expired before `before` (abandoned sign-ins). */
  pruneOidcLogins(before: Date): Promise<void>;

  createCliCode(code: CliCodeRecord): Promise<void>;
  /** Deletes and returns the code in one step, whatever its expiry: a second take gets null. */
  takeCliCode(codeHash: string): Promise<CliCodeRecord | null>;
  /** Deletes codes that expired before `before` (never exchanged). */
  pruneCliCodes(before: Date): Promise<void>;
}
