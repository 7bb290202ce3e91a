import type Database from 'better-sqlite3';
import type { CliCodeRecord, OidcConfigRecord, OidcLoginRecord, OidcStore } from '../oidc-store.js';
import type { Tenant } from '../records.js';
import { rowMappers, type Row } from '../row-mappers.js';
import { prepareEach, readStatements, type GroupCommit, type Writer } from './group-commit.js';
import { OIDC_READS, OIDC_WRITES } from './queries.js';

const { oidcConfigFromRow, oidcLoginFromRow, cliCodeFromRow, tenantFromRow } = rowMappers({
  date: (v) => new Date(v as number),
  json: <T>(v: unknown) => JSON.parse(v as string) as T,
});



/** OidcStore over the SqliteStore's connection and group commit. */
export class SqliteOidcStore implements OidcStore {
  private readonly reads: () => Record<keyof typeof OIDC_READS, Database.Statement>;
  private readonly writer: Writer<Record<keyof typeof OIDC_WRITES, Database.Statement>>;

  constructor(db: Database.Database, commit: GroupCommit) {
    this.reads = readStatements(() => prepareEach(db, OIDC_READS));
    this.writer = commit.writer(() => prepareEach(db, OIDC_WRITES));
  }

  private get q(): Record<keyof typeof OIDC_READS, Database.Statement> {
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
      w.insertLogin.run({ ...login, cli: login.cli ? JSON.stringify(login.cli) : null, createdAt: login.createdAt.getTime(), expiresAt: login.expiresAt.getTime() });
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

  createCliCode(code: CliCodeRecord): Promise<void> {
    return this.writer.run((w) => {
      w.insertCliCode.run({ ...code, createdAt: code.createdAt.getTime(), expiresAt: code.expiresAt.getTime() });
    });
  }

  takeCliCode(codeHash: string): Promise<CliCodeRecord | null> {
    return this.writer.run((w) => {
      const row = w.takeCliCode.get(codeHash) as Row | undefined;
      return row ? cliCodeFromRow(row) : null;
    });
  }

  pruneCliCodes(before: Date): Promise<void> {
    return this.writer.run((w) => {
      w.pruneCliCodes.run(before.getTime());
    });
  }
}
