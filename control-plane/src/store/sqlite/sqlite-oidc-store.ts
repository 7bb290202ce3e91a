import type Database from 'better-sqlite3';
import type { OidcConfigRecord, OidcLoginRecord, OidcStore } from '../oidc-store.js';
import type { Tenant } from '../records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { readStatements, type GroupCommit, type Writer } from './group-commit.js';

const { oidcConfigFromRow, oidcLoginFromRow, tenantFromRow } = rowMappers({
  date: (v) => new Date(v as number),
  json: <T>(v: unknown) => JSON.parse(v as string) as T,
});

function prepareReads(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    tenantByName: p(`SELECT * FROM tenants WHERE name = ?`),
    getConfig: p(`SELECT * FROM oidc_configs WHERE tenant_id = ?`),
  };
}

function prepareWrites(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    putConfig: p(`INSERT INTO oidc_configs (tenant_id, issuer, client_id, client_secret_sealed, allowed_email_domains, scopes,
        role_claim, role_mapping, default_role, created_at, updated_at)
      VALUES (@tenantId, @issuer, @clientId, @clientSecretSealed, @allowedEmailDomains, @scopes, @roleClaim, @roleMapping, @defaultRole,
        @createdAt, @updatedAt)
      ON CONFLICT (tenant_id) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
        client_secret_sealed = excluded.client_secret_sealed, allowed_email_domains = excluded.allowed_email_domains,
        scopes = excluded.scopes, role_claim = excluded.role_claim, role_mapping = excluded.role_mapping, default_role = excluded.default_role,
        updated_at = excluded.updated_at
      RETURNING *`),
    deleteConfig: p(`DELETE FROM oidc_configs WHERE tenant_id = ?`),
    insertLogin: p(`INSERT INTO oidc_logins (state_hash, tenant_id, browser_hash, nonce, code_verifier, return_to, created_at, expires_at)
      VALUES (@stateHash, @tenantId, @browserHash, @nonce, @codeVerifier, @returnTo, @createdAt, @expiresAt)`),
    takeLogin: p(`DELETE FROM oidc_logins WHERE state_hash = ? RETURNING *`),
    pruneLogins: p(`DELETE FROM oidc_logins WHERE expires_at < ?`),
  };
}

/** OidcStore over the SqliteStore's connection and group commit. */
export class SqliteOidcStore implements OidcStore {
  private readonly reads: () => ReturnType<typeof prepareReads>;
  private readonly writer: Writer<ReturnType<typeof prepareWrites>>;

  constructor(db: Database.Database, commit: GroupCommit) {
    this.reads = readStatements(() => prepareReads(db));
    this.writer = commit.writer(() => prepareWrites(db));
  }

  private get q(): ReturnType<typeof prepareReads> {
    return this.reads();
  }

  async findTenantByName(name: string): Promise<Tenant | null> {
    const row = this.q.tenantByName.get(name) as Row | undefined;
    return row ? tenantFromRow(row) : null;
  }

  putOidcConfig(c: OidcConfigRecord): Promise<OidcConfigRecord> {
    return this.writer.run((w) => {
      const row = w.putConfig.get({
        ...c,
        allowedEmailDomains: JSON.stringify(c.allowedEmailDomains),
        scopes: JSON.stringify(c.scopes),
        roleMapping: JSON.stringify(c.roleMapping),
        createdAt: c.createdAt.getTime(),
        updatedAt: c.updatedAt.getTime(),
      }) as Row;
      return oidcConfigFromRow(row);
    });
  }

  async getOidcConfig(tenantId: string): Promise<OidcConfigRecord | null> {
    const row = this.q.getConfig.get(tenantId) as Row | undefined;
    return row ? oidcConfigFromRow(row) : null;
  }

  deleteOidcConfig(tenantId: string): Promise<boolean> {
    return this.writer.run((w) => w.deleteConfig.run(tenantId).changes > 0);
  }

  createOidcLogin(login: OidcLoginRecord): Promise<void> {
    return this.writer.run((w) => {
      w.insertLogin.run({ ...login, createdAt: login.createdAt.getTime(), expiresAt: login.expiresAt.getTime() });
    });
  }

  takeOidcLogin(stateHash: string): Promise<OidcLoginRecord | null> {
    return this.writer.run((w) => {
      const row = w.takeLogin.get(stateHash) as Row | undefined;
      return row ? oidcLoginFromRow(row) : null;
    });
  }

  pruneOidcLogins(before: Date): Promise<void> {
    return this.writer.run((w) => {
      w.pruneLogins.run(before.getTime());
    });
  }
}
