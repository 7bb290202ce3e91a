import type pg from 'pg';
import type { CliCodeRecord, OidcConfigRecord, OidcLoginRecord, OidcStore } from '../oidc-store.js';
import type { Tenant } from '../records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { OIDC } from './queries.js';

const { oidcConfigFromRow, oidcLoginFromRow, cliCodeFromRow, tenantFromRow } = rowMappers({
  date: (v) => v as Date,
  json: <T>(v: unknown) => v as T,
});

/** OidcStore over the PostgresStore's pool; every method is one statement, so atomic by itself. */
export class PostgresOidcStore implements OidcStore {
  constructor(private readonly pool: pg.Pool) {}

  async findTenantByName(name: string): Promise<Tenant | null> {
    const { rows } = await this.pool.query<Row>(OIDC.findTenantByName, [name]);
    return rows[0] ? tenantFromRow(rows[0]) : null;
  }

  async putOidcConfig(c: OidcConfigRecord): Promise<OidcConfigRecord> {
    const { rows } = await this.pool.query<Row>(
      OIDC.putOidcConfig,
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
    const { rows } = await this.pool.query<Row>(OIDC.getOidcConfig, [tenantId]);
    return rows[0] ? oidcConfigFromRow(rows[0]) : null;
  }

  async deleteOidcConfig(tenantId: string): Promise<boolean> {
    const res = await this.pool.query(OIDC.deleteOidcConfig, [tenantId]);
    return (res.rowCount ?? 0) > 0;
  }

  async createOidcLogin(l: OidcLoginRecord): Promise<void> {
    await this.pool.query(
      OIDC.createOidcLogin,
      [l.stateHash, l.tenantId, l.browserHash, l.nonce, l.codeVerifier, l.returnTo, l.cli ? JSON.stringify(l.cli) : null, l.createdAt, l.expiresAt],
    );
  }

  async takeOidcLogin(stateHash: string): Promise<OidcLoginRecord | null> {
    // One statement: two callbacks racing with the same state cannot both get the row.
    const { rows } = await this.pool.query<Row>(OIDC.takeOidcLogin, [stateHash]);
    return rows[0] ? oidcLoginFromRow(rows[0]) : null;
  }

  async pruneOidcLogins(before: Date): Promise<void> {
    await this.pool.query(OIDC.pruneOidcLogins, [before]);
  }

  async createCliCode(c: CliCodeRecord): Promise<void> {
    await this.pool.query(OIDC.createCliCode, [c.codeHash, c.tenantId, c.userId, c.codeChallenge, c.redirectUri, c.createdAt, c.expiresAt]);
  }

  async takeCliCode(codeHash: string): Promise<CliCodeRecord | null> {
    // One statement: two exchanges racing with the same code cannot both get the row.
    const { rows } = await this.pool.query<Row>(OIDC.takeCliCode, [codeHash]);
    return rows[0] ? cliCodeFromRow(rows[0]) : null;
  }

  async pruneCliCodes(before: Date): Promise<void> {
    await this.pool.query(OIDC.pruneCliCodes, [before]);
  }
}
