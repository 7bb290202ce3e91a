/** Public entry of the control plane package: start it in-process (tests, local mode, benchmarks). */
export { startControlPlane, type RunningControlPlane } from './server.js';
export { loadConfig, ConfigError, type Config } from './config.js';
export { ListenError } from './listen-error.js';
export { operatorKeyNotice } from './security/operator-key.js';
export { createLogger } from './log.js';
export type { Store } from './store/store.js';
export { SqliteStore } from './store/sqlite/sqlite-store.js';
