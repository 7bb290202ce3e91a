import { join } from 'node:path';
import type { Config } from '../config.js';
import { createPrivateFile } from '../security/data-dir.js';
import { PostgresStore } from './postgres/postgres-store.js';
import { SqliteStore } from './sqlite/sqlite-store.js';
import type { Store } from './store.js';

/**
 * The one place that chooses the Store backend: PostgreSQL when a database URL is configured (the
 * scale-out mode, shared by replicas), else the embedded SQLite file in the data directory. The
 * caller migrates; opening never touches the schema.
 */
export async function openStore(config: Pick<Config, 'databaseUrl' | 'dataDir'>): Promise<Store> {
  if (config.databaseUrl) return PostgresStore.open({ url: config.databaseUrl });
  const path = join(config.dataDir, 'attache.db');
  await createPrivateFile(path);
  return SqliteStore.open({ path });
}
