import { AppError, ErrorCode } from '../errors.js';
import type { SecretBox } from '../security/secret-box.js';
import type { OidcConfigRecord, OidcStore } from '../store/oidc-store.js';
import type { Role } from './roles.js';
import type { OidcProviderClient } from './oidc-provider-client.js';

export interface OidcConfigInput {
  issuer: string;
  clientId: string;
  /** Absent on an update: the stored secret stays. Null: a public client (PKCE only). */
  clientSecret?: string | null | undefined;
  allowedEmailDomains: string[];
  scopes: string[];
  roleClaim: string;
  roleMapping: Record<string, Role>;
  defaultRole: Role | null;
}

/** The associated data of a sealed client secret: it opens only for the tenant it was set for. */
export const secretContext = (tenantId: string): string => `attache/oidc-client-secret/v1|${tenantId}`;

/** A tenant's identity provider settings. The client secret goes in sealed and never comes out. */
export class OidcConfigService {
  constructor(
    private readonly store: OidcStore,
    private readonly box: SecretBox,
    private readonly provider: OidcProviderClient,
  ) {}

  get(tenantId: string): Promise<OidcConfigRecord | null> {
    return this.store.getOidcConfig(tenantId);
  }

  /** The configuration, or OIDC_NOT_CONFIGURED naming the route that sets one. */
  async require(tenantId: string): Promise<OidcConfigRecord> {
    const config = await this.store.getOidcConfig(tenantId);
    if (!config) throw notConfigured();
    return config;
  }

  /**
   * Stores the settings after discovering the provider with them, so a wrong issuer is reported
   * now (OIDC_PROVIDER_UNREACHABLE) rather than at the first person's sign-in.
   */
  async put(tenantId: string, input: OidcConfigInput): Promise<OidcConfigRecord> {
    this.provider.checkIssuer(input.issuer);
    const existing = await this.store.getOidcConfig(tenantId);
    const clientSecretSealed =
      input.clientSecret === undefined ? (existing?.clientSecretSealed ?? null) : input.clientSecret === null ? null : this.box.seal(input.clientSecret, secretContext(tenantId));
    const now = new Date();
    const record: OidcConfigRecord = {
      tenantId,
      issuer: input.issuer,
      clientId: input.clientId,
      clientSecretSealed,
      allowedEmailDomains: [...new Set(input.allowedEmailDomains.map((d) => d.toLowerCase()))],
      scopes: [...new Set(input.scopes)],
      roleClaim: input.roleClaim,
      roleMapping: input.roleMapping,
      defaultRole: input.defaultRole,
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    await this.provider.configuration(this.providerSettings(record));
    return this.store.putOidcConfig(record);
  }

  async remove(tenantId: string): Promise<void> {
    if (!(await this.store.deleteOidcConfig(tenantId))) throw notConfigured();
  }

  /** What openid-client needs, with the client secret opened. */
  providerSettings(config: OidcConfigRecord): { issuer: string; clientId: string; clientSecret: string | null } {
    let clientSecret: string | null = null;
    if (config.clientSecretSealed !== null) {
      clientSecret = this.box.open(config.clientSecretSealed, secretContext(config.tenantId));
      if (clientSecret === null) {
        throw new AppError(
          ErrorCode.OIDC_NOT_CONFIGURED,
          "The tenant's OIDC client secret cannot be opened with this control plane's key (ATTACHE_OIDC_SECRET_KEY differs between replicas, or was changed); a tenant admin must set clientSecret again with PUT /v1/oidc.",
          {},
        );
      }
    }
    return { issuer: config.issuer, clientId: config.clientId, clientSecret };
  }
}

export function notConfigured(): AppError {
  return new AppError(ErrorCode.OIDC_NOT_CONFIGURED, 'This tenant has no OIDC identity provider; a tenant admin can set one with PUT /v1/oidc.', {});
}
