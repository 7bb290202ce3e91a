import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { registeredSchemes } from '@attache/delegate';
import { Fleet, withTimeout } from './agents.js';
import { benchControlPlane, processUsage, tenantWithToken } from './cluster.js';

export interface ConnectionsOptions {
  delegates: number;
  /** How long the idle control plane's CPU is sampled; a few heartbeat intervals. */
  idleSeconds: number;
}

export interface ConnectionsRow {
  carrier: string;
  delegates: number;
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
}

/**
 * N idle delegates on one control plane. RSS is the control plane's own (from /proc), before and
 * after the fleet connects, so the difference is what the connections cost. The restart is a
 * SIGKILL (a crash, the worst case): every delegate sees its stream fail at once and comes back
 * with its jittered backoff.
 */
export async function runConnections(opts: ConnectionsOptions, log: (s: string) => void): Promise<ConnectionsRow[]> {
  const rows: ConnectionsRow[] = [];
  const others = registeredSchemes().filter((s) => !['grpc', 'grpcs'].includes(s));
  if (others.length > 0) log(`  carriers registered but not benchmarked here yet: ${others.join(', ')}`);
  const cp = await benchControlPlane();
  let fleet: Fleet | undefined;
  try {
    const { token } = await tenantWithToken(cp, 'connections');
    await sleep(2_000);
    const pid = () => cp.proc.child.pid ?? 0;
    const base = await processUsage(pid());
    const t0 = performance.now();
    fleet = await Fleet.start({ url: cp.grpcUrl, token, name: 'idle', count: opts.delegates, tags: ['idle'], maxConcurrency: 1, startBatch: 250 });
    log(`  ${opts.delegates} delegates registered in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await sleep(3_000);
    const loaded = await processUsage(pid());
    const cpu0 = await processUsage(pid());
    const w0 = performance.now();
    await sleep(opts.idleSeconds * 1000);
    const cpu1 = await processUsage(pid());
    const idleCpu = (cpu1.cpuSeconds - cpu0.cpuSeconds) / ((performance.now() - w0) / 1000);

    const back = fleet.allRegisteredAgain();
    const k0 = performance.now();
    await cp.restart('SIGKILL');
    const restartSeconds = (performance.now() - k0) / 1000;
    await withTimeout(back, 120_000, 'every delegate to reconnect');
    const reconnectSeconds = (performance.now() - k0) / 1000;
    await sleep(1_000);
    const survived = cp.proc.running;
    const after = await processUsage(pid());
    const row: ConnectionsRow = {
      carrier: 'grpc',
      delegates: opts.delegates,
      baselineRssMb: base.rssBytes / 2 ** 20,
      rssMb: loaded.rssBytes / 2 ** 20,
      rssPerConnectionKb: (loaded.rssBytes - base.rssBytes) / 1024 / opts.delegates,
      idleCpu,
      heartbeatIntervalMs: 5_000,
      reconnectSeconds,
      restartSeconds,
      survived,
      rssAfterStormMb: after.rssBytes / 2 ** 20,
    };
    log(
      `  grpc: ${row.rssPerConnectionKb.toFixed(1)} KB RSS per connection, idle CPU ${row.idleCpu.toFixed(3)} s/s, ` +
        `all reconnected ${row.reconnectSeconds.toFixed(1)} s after the kill (restart took ${row.restartSeconds.toFixed(1)} s)`,
    );
    rows.push(row);
  } finally {
    await fleet?.stop();
    await cp.stop();
  }
  return rows;
}
