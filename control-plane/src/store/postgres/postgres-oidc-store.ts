import type pg from 'pg';
import type { OidcConfigRecord, OidcLoginRecord, OidcStore } from '../oidc-store.js';
import type { Tenant } from '../records.js';
import { rowMappers, type Row } from '../row-mappers.js';

const { oidcConfigFromRow, oidcLoginFromRow, tenantFromRow } = rowMappers({
  date: (v) => v as Date,
  json: <T>(v: unknown) => v as T,
});

/** OidcStore over the PostgresStore's pool; every method is one statement, so atomic by itself. */
export class PostgresOidcStore implements OidcStore {
  constructor(private readonly pool: pg.Pool) {}

  async findTenantByName(name: string): Promise<Tenant | null> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM tenants WHERE name = $1', [name]);
    return rows[0] ? tenantFromRow(rows[0]) : null;
  }

  async putOidcConfig(c: OidcConfigRecord): Promise<OidcConfigRecord> {
    const { rows } = await this.pool.query<Row>(
      `INSERT INTO oidc_configs (tenant_id, issuer, client_id, client_secret_sealed, allowed_email_domains, scopes, role_claim,
         role_mapping, default_role, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8::jsonb, $9, $10, $11)
       ON CONFLICT (tenant_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
         client_secret_sealed = excluded.client_secret_sealed, allowed_email_domains = excluded.allowed_email_domains,
         scopes = excluded.scopes, role_claim = excluded.role_claim, role_mapping = excluded.role_mapping, default_role = excluded.default_role,
         updated_at = excluded.updated_at
       RETURNING *`,
      [
        c.tenantId,
        c.issuer,
        c.clientId,
        c.clientSecretSealed,
        JSON.stringify(c.allowedEmailDomains),
        JSON.stringify(c.scopes),
        c.roleClaim,
        JSON.stringify(c.roleMapping),
        c.defaultRole,
        c.createdAt,
        c.updatedAt,
      ],
    );
    return oidcConfigFromRow(rows[0]!);
  }

  async getOidcConfig(tenantId: string): Promise<OidcConfigRecord | null> {
    const { rows } = await this.pool.query<Row>('SELECT * FROM oidc_configs WHERE tenant_id = $1', [tenantId]);
    return rows[0] ? oidcConfigFromRow(rows[0]) : null;
  }

  async deleteOidcConfig(tenantId: string): Promise<boolean> {
    const res = await this.pool.query('DELETE FROM oidc_configs WHERE tenant_id = $1', [tenantId]);
    return (res.rowCount ?? 0) > 0;
  }

  async createOidcLogin(l: OidcLoginRecord): Promise<void> {
    await this.pool.query(
      `INSERT INTO oidc_logins (state_hash, tenant_id, browser_hash, nonce, code_verifier, return_to, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [l.stateHash, l.tenantId, l.browserHash, l.nonce, l.codeVerifier, l.returnTo, l.createdAt, l.expiresAt],
    );
  }

  async takeOidcLogin(stateHash: string): Promise<OidcLoginRecord | null> {
    // One statement: two callbacks racing with the same state cannot both get the row.
    const { rows } = await this.pool.query<Row>('DELETE FROM oidc_logins WHERE state_hash = $1 RETURNING *', [stateHash]);
    return rows[0] ? oidcLoginFromRow(rows[0]) : null;
  }

  async pruneOidcLogins(before: Date): Promise<void> {
    await this.pool.query('DELETE FROM oidc_logins WHERE expires_at < $1', [before]);
  }
}
