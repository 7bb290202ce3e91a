#!/usr/bin/env node
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { Agent } from './agent.js';
import { AGENT_DEFAULTS } from './agent-options.js';
import { carrierFor, registeredSchemes } from './carriers/index.js';
import { CONFIG_SOURCES, loadConfig, loadPolicyConfig, type ConfigFlags, type DelegateConfig } from './config.js';
import { builtinExecutors } from './executors/registry.js';
import { startHealthServer, type HealthServer } from './health-server.js';
import { loadKeyring } from './keys/keyring.js';
import { registerKeyCommands } from './keys/commands.js';
import { createLogger } from './log.js';
import { Masker } from './masking.js';

/**
 * `attache-delegate`: runs a delegate until it is drained (SIGTERM/SIGINT) or refused.
 *
 * Exit codes: 0 drained or stopped cleanly; 1 unexpected failure; 2 bad configuration or usage,
 * including a name or tags the control plane does not allow for the token (GROUP_NOT_ALLOWED,
 * TAGS_NOT_ALLOWED); 3 the control plane refused the token (revoked, unauthenticated) — restarting
 * will not help.
 * A second signal during drain exits at once with 128 + the signal number.
 */
export const ExitCode = { OK: 0, FAILURE: 1, CONFIG: 2, REFUSED: 3 } as const;

const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

const OPTION_HELP: Record<keyof ConfigFlags, [string, string]> = {
  // From the carrier registry, so a new carrier's scheme is listed without touching this file.
  url: ['<urls>', `control-plane address(es), comma-separated and tried in turn: ${registeredSchemes().map((s) => `${s}://host${carrierFor(`${s}:`)?.defaultPort ? '[:port]' : ':port'}`).join(', ')}`],
  token: ['<token>', 'delegate token (prefer the environment variable: flags show up in ps)'],
  name: ['<name>', 'delegate group name, [a-z0-9][a-z0-9-]{0,62}'],
  tags: ['<tags>', 'comma-separated tags used for routing'],
  maxConcurrency: ['<n>', `tasks run at once, 1..1000 (default ${AGENT_DEFAULTS.maxConcurrency})`],
  caFile: ['<path>', 'PEM trust root for grpcs:// and wss://'],
  healthAddr: ['<host:port>', 'serve GET /healthz here (off when unset)'],
  drainGraceSeconds: ['<seconds>', `on SIGTERM, how long running tasks may finish (default ${AGENT_DEFAULTS.drainGraceMs / 1000})`],
  logLevel: ['<level>', 'fatal, error, warn, info, debug, trace or silent (default info)'],
  keyFile: ['<paths>', 'group key files for sealed values, comma-separated, current first (attache-delegate keygen)'],
  stateDir: ['<dir>', 'without a key file: where the group key is generated on first start (mode 0600)'],
  allowRefs: ['<patterns>', 'secret references this delegate resolves, comma-separated env:/file: patterns, * any run (default env:AWS_*,file:/var/run/secrets/attache/*; none: sealed values only)'],
  allowEndpoints: ['<origins>', 'origins account endpoint overrides and SCAP/CAP portals may name, comma-separated scheme://host[:port], * in a host (default none)'],
};

function buildProgram(): Command {
  const program = new Command('attache-delegate')
    .description('Attaché delegate: connects outbound to the control plane and runs tasks next to your credentials.')
    .version(version)
    .exitOverride()
    .showHelpAfterError(false);
  for (const key of Object.keys(CONFIG_SOURCES) as (keyof ConfigFlags)[]) {
    const { env, flag } = CONFIG_SOURCES[key];
    const [arg, help] = OPTION_HELP[key];
    program.option(`${flag} ${arg}`, `${help} [env ${env}]`);
  }
  program.action(async () => {
    process.exitCode = await runDelegate(program.opts<ConfigFlags>());
  });
  program
    .command('check-config')
    .description('validate the configuration and print it (token hidden), without connecting')
    .action(() => {
      const config = configOrExit(program.opts<ConfigFlags>());
      if (!config) return;
      const { token: _token, ca: _ca, policy, allowEndpoints: _origins, ...shown } = config;
      const { allowEndpoints } = policy.summary();
      process.stdout.write(`${JSON.stringify({ ...shown, allowEndpoints, urls: shown.urls.map((u) => u.href), token: '***' }, null, 2)}\n`);
    });
  program
    .command('policy')
    .description('print the effective delegate policy as JSON (what it resolves, where it connects, what it never resolves, digest); needs only the policy settings')
    .action(() => {
      const result = loadPolicyConfig(process.env, program.opts<ConfigFlags>());
      if (!result.ok) {
        for (const line of result.errors) process.stderr.write(`attache-delegate: ${line}\n`);
        process.exitCode = ExitCode.CONFIG;
        return;
      }
      process.stdout.write(`${JSON.stringify(result.policy.summary(), null, 2)}\n`);
    });
  registerKeyCommands(program, (message) => {
    process.stderr.write(`attache-delegate: ${message}\n`);
    process.exitCode = ExitCode.CONFIG;
  });
  return program;
}

function configOrExit(flags: ConfigFlags): DelegateConfig | undefined {
  const result = loadConfig(process.env, flags);
  if (result.ok) return result.config;
  for (const line of result.errors) process.stderr.write(`attache-delegate: ${line}\n`);
  process.exitCode = ExitCode.CONFIG;
  return undefined;
}

async function runDelegate(flags: ConfigFlags): Promise<number> {
  const config = configOrExit(flags);
  if (!config) return ExitCode.CONFIG;

  const masker = new Masker();
  masker.register(config.token);
  const log = createLogger({ level: config.logLevel, masker });
  let keyring;
  try {
    keyring = await loadKeyring({ keyFiles: config.keyFiles, stateDir: config.stateDir, warn: (message) => log.warn(message) });
  } catch (err) {
    process.stderr.write(`attache-delegate: ${CONFIG_SOURCES.keyFile.env}: ${(err as Error).message}\n`);
    return ExitCode.CONFIG;
  }
  if (keyring.current) log.info({ keyIds: keyring.keyIds }, 'group keys loaded');
  log.info({ policy: config.policy.summary() }, 'delegate policy');
  const agent = new Agent({
    url: config.urls,
    token: config.token,
    name: config.name,
    tags: config.tags,
    maxConcurrency: config.maxConcurrency,
    ca: config.ca,
    executors: builtinExecutors(),
    drainGraceMs: config.drainGraceSeconds * 1000,
    logger: log,
    masker,
    keyring,
    policy: config.policy,
  });

  let health: HealthServer | undefined;
  if (config.healthAddr) {
    try {
      health = await startHealthServer(agent, config.healthAddr);
      log.info({ address: health.address }, 'health endpoint listening');
    } catch (err) {
      process.stderr.write(`attache-delegate: ${CONFIG_SOURCES.healthAddr.env}: cannot listen: ${(err as Error).message}\n`);
      return ExitCode.CONFIG;
    }
  }

  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal }, 'second signal; exiting without finishing the drain');
      process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
    }
    signalled = true;
    log.info({ signal }, 'signal received; draining');
    void agent.drain(`received ${signal}`);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  agent.start();
  const info = await agent.stopped;
  await health?.close();
  if (info.reason === 'misconfigured') {
    process.stderr.write(`attache-delegate: the control plane refused this delegate's configuration (${info.code}): ${info.message ?? ''}\n`);
    return ExitCode.CONFIG;
  }
  if (info.reason === 'fatal') {
    process.stderr.write(`attache-delegate: the control plane refused this delegate (${info.code}): ${info.message ?? ''}\n`);
    return ExitCode.REFUSED;
  }
  return ExitCode.OK;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message; help and --version are successes.
      const ok = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help';
      process.exitCode = ok ? ExitCode.OK : ExitCode.CONFIG;
    } else {
      process.stderr.write(`attache-delegate: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
      process.exitCode = ExitCode.FAILURE;
    }
  }
  // Aborted executors may leave sockets or timers behind; the exit code is decided, so leave now.
  process.exit(process.exitCode ?? ExitCode.OK);
}

await main();
