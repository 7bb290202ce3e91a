#!/usr/bin/env node
import { Command } from 'commander';
import { ConfigError, loadConfig } from './config.js';
import { startControlPlane } from './server.js';
import { ListenError } from './listen-error.js';
import { operatorKeyNotice } from './security/operator-key.js';

const program = new Command()
  .name('attache-control-plane')
  .description('Attaché control plane: REST API, delegate carriers and task routing.\nConfigured by environment variables (ATTACHE_HTTP_ADDR, ATTACHE_GRPC_ADDR, ATTACHE_DATA_DIR, ...); see the README.')
  .option('--http-addr <host:port>', 'REST API address (ATTACHE_HTTP_ADDR, default 0.0.0.0:8080)')
  .option('--grpc-addr <host:port>', 'delegate gRPC address (ATTACHE_GRPC_ADDR, default 0.0.0.0:7443)')
  .option('--data-dir <path>', 'data directory (ATTACHE_DATA_DIR, default ./.attache)')
  .option('--log-level <level>', 'log level (ATTACHE_LOG_LEVEL, default info)')
  .action(async (opts: { httpAddr?: string; grpcAddr?: string; dataDir?: string; logLevel?: string }) => {
    const env = { ...process.env };
    if (opts.httpAddr) env['ATTACHE_HTTP_ADDR'] = opts.httpAddr;
    if (opts.grpcAddr) env['ATTACHE_GRPC_ADDR'] = opts.grpcAddr;
    if (opts.dataDir) env['ATTACHE_DATA_DIR'] = opts.dataDir;
    if (opts.logLevel) env['ATTACHE_LOG_LEVEL'] = opts.logLevel;
    let config;
    try {
      config = loadConfig(env);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(2);
      }
      throw err;
    }
    // Nothing this process creates is for other users (the data dir's files are also chmod-ed).
    process.umask(0o077);
    const cp = await startControlPlane(config);
    if (cp.operatorKeyGenerated && cp.operatorKeyFile) {
      process.stderr.write(operatorKeyNotice(cp.operatorKey, cp.operatorKeyFile, process.stderr.isTTY === true));
    }
    let signals = 0;
    const shutdown = (signal: string) => {
      if (++signals > 1) process.exit(1);
      cp.log.info({ signal }, 'shutting down');
      void cp.stop().then(() => process.exit(0));
    };
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  });

program.parseAsync().catch((err: unknown) => {
  if (err instanceof ListenError) {
    process.stderr.write(`attache-control-plane: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`attache-control-plane: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
