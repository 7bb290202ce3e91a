import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { registeredSchemes } from '@attache/delegate';
import { withTimeout } from './agents.js';
import { ProcessFleet } from './fleet.js';
import { createNatsOperatorSetup } from '../../control-plane/src/nats/account.js';
import { startNats } from '@attache/testkit/nats';
import { benchControlPlane, processUsage, tenantWithToken } from './cluster.js';

export interface ConnectionsOptions {
  delegates: number;
  /** How long the idle control plane's CPU is sampled; a few heartbeat intervals. */
  idleSeconds: number;
  /** Which carriers to measure, in order: grpc, websocket, nats. */
  carriers: readonly string[];
  /** Child processes the simulated delegates are spread over (fleet.ts). */
  workers: number;
}

export interface ConnectionsRow {
  carrier: string;
  delegates: number;
  /** Child processes the delegates ran in. */
  workers: number;
  /** From the first connection attempt to every delegate welcomed. */
  registerSeconds: number;
  baselineRssMb: number;
  rssMb: number;
  rssPerConnectionKb: number;
  /** Control-plane CPU seconds per wall second while the delegates only heartbeat. */
  idleCpu: number;
  heartbeatIntervalMs: number;
  /** From the kill of the control plane to every delegate registered again. */
  reconnectSeconds: number;
  /** Part of that spent starting the new control-plane process. */
  restartSeconds: number;
  survived: boolean;
  rssAfterStormMb: number;
  /** NATS only: nats-server's RSS growth per delegate, since the connections are held there. */
  brokerRssPerConnectionKb?: number;
}

/**
 * N idle delegates on one control plane, over each carrier. RSS is the control plane's own (from
 * /proc), before and after the fleet connects, so the difference is what the connections cost; for
 * NATS the delegates hold their connections to nats-server, whose RSS growth is reported too. The
 * restart is a SIGKILL (a crash, the worst case): gRPC and WebSocket delegates see their stream
 * fail at once, NATS delegates only after the heartbeat timeout of silence, and all come back with
 * their jittered backoff.
 */
export async function runConnections(opts: ConnectionsOptions, log: (s: string) => void): Promise<ConnectionsRow[]> {
  const rows: ConnectionsRow[] = [];
  const known = new Set(['grpc', 'grpcs', 'ws', 'wss', 'nats', 'tls']);
  const others = registeredSchemes().filter((s) => !known.has(s));
  if (others.length > 0) log(`  carriers registered but not benchmarked here yet: ${others.join(', ')}`);
  for (const carrier of opts.carriers) {
    if (carrier !== 'grpc' && carrier !== 'websocket' && carrier !== 'nats') throw new Error(`--carriers: unknown carrier ${carrier} (grpc, websocket, nats)`);
    rows.push(await measure(carrier, opts, log));
  }
  return rows;
}

async function measure(carrier: 'grpc' | 'websocket' | 'nats', opts: ConnectionsOptions, log: (s: string) => void): Promise<ConnectionsRow> {
  const setup = carrier === 'nats' ? await createNatsOperatorSetup() : undefined;
  const nats = setup ? await startNats({ config: setup.serverConfig }) : undefined;
  const cp = await benchControlPlane(
    setup && nats ? { ATTACHE_NATS_URL: nats.url, ATTACHE_NATS_SIGNING_SEED: setup.signingSeed, ATTACHE_NATS_ACCOUNT: setup.accountPublicKey } : {},
  );
  const url = { grpc: cp.grpcUrl, websocket: cp.httpUrl.replace(/^http/, 'ws'), nats: nats ? `${nats.url}?api=${encodeURIComponent(cp.httpUrl)}` : '' }[carrier];
  let fleet: ProcessFleet | undefined;
  try {
    const { token } = await tenantWithToken(cp, `connections-${carrier}`);
    await sleep(2_000);
    const pid = () => cp.proc.child.pid ?? 0;
    const brokerPid = () => nats?.proc.child.pid ?? 0;
    const base = await processUsage(pid());
    const brokerBase = nats ? await processUsage(brokerPid()) : undefined;
    fleet = await ProcessFleet.spawn({ url, token, name: 'idle', count: opts.delegates, tags: ['idle'], maxConcurrency: 1, workers: opts.workers, startBatch: 500 });
    const t0 = performance.now();
    await fleet.connect();
    const registerSeconds = (performance.now() - t0) / 1000;
    log(`  ${carrier}: ${opts.delegates} delegates registered in ${registerSeconds.toFixed(1)} s (${opts.workers} client processes)`);
    await sleep(3_000);
    const loaded = await processUsage(pid());
    const brokerLoaded = nats ? await processUsage(brokerPid()) : undefined;
    // Said before the restart, so a storm that fails still leaves the idle cost on record.
    log(`  ${carrier}: idle RSS ${((loaded.rssBytes - base.rssBytes) / 1024 / opts.delegates).toFixed(1)} KB per connection (control plane ${(loaded.rssBytes / 2 ** 20).toFixed(0)} MB)`);
    const cpu0 = await processUsage(pid());
    const w0 = performance.now();
    await sleep(opts.idleSeconds * 1000);
    const cpu1 = await processUsage(pid());
    const idleCpu = (cpu1.cpuSeconds - cpu0.cpuSeconds) / ((performance.now() - w0) / 1000);

    const back = await fleet.allRegisteredAgain();
    const k0 = performance.now();
    await cp.restart('SIGKILL');
    const restartSeconds = (performance.now() - k0) / 1000;
    // The storm's timeline from the control plane's own counters: registered, paced and closed
    // connections since the restart, every 2 s (what bench/analysis.md reads the reconnect from).
    const timeline = setInterval(() => {
      void fetch(`${cp.httpUrl}/metrics`)
        .then((r) => r.text())
        .then((text) => {
          const count = (event: string) => Number(new RegExp(`^attache_delegate_connection_events_total\\{transport="${carrier}",event="${event}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
          log(`    ${carrier} t+${((performance.now() - k0) / 1000).toFixed(1)} s: ${count('registered')} registered, ${count('paced')} paced, ${count('closed')} closed`);
        })
        .catch(() => undefined);
    }, 2_000);
    await withTimeout(back(), 120_000, 'every delegate to reconnect').finally(() => clearInterval(timeline));
    const reconnectSeconds = (performance.now() - k0) / 1000;
    await sleep(1_000);
    const survived = cp.proc.running;
    const after = await processUsage(pid());
    const row: ConnectionsRow = {
      carrier,
      delegates: opts.delegates,
      workers: opts.workers,
      registerSeconds,
      baselineRssMb: base.rssBytes / 2 ** 20,
      rssMb: loaded.rssBytes / 2 ** 20,
      rssPerConnectionKb: (loaded.rssBytes - base.rssBytes) / 1024 / opts.delegates,
      ...(brokerBase && brokerLoaded ? { brokerRssPerConnectionKb: (brokerLoaded.rssBytes - brokerBase.rssBytes) / 1024 / opts.delegates } : {}),
      idleCpu,
      heartbeatIntervalMs: 5_000,
      reconnectSeconds,
      restartSeconds,
      survived,
      rssAfterStormMb: after.rssBytes / 2 ** 20,
    };
    log(
      `  ${carrier}: ${row.rssPerConnectionKb.toFixed(1)} KB control-plane RSS per connection` +
        (row.brokerRssPerConnectionKb !== undefined ? ` (+${row.brokerRssPerConnectionKb.toFixed(1)} KB in nats-server)` : '') +
        `, idle CPU ${row.idleCpu.toFixed(3)} s/s, all reconnected ${row.reconnectSeconds.toFixed(1)} s after the kill (restart took ${row.restartSeconds.toFixed(1)} s)`,
    );
    return row;
  } finally {
    await fleet?.stop();
    await cp.stop();
    await nats?.stop();
  }
}
