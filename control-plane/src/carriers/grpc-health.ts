import type * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { DelegateService } from '@attache/proto';
import type { Logger } from 'pino';

/** How often readiness is re-checked for gRPC health: a store ping a second is cheap, and probes see a change within it. */
export const GRPC_HEALTH_INTERVAL_MS = 1_000;

/**
 * The standard `grpc.health.v1.Health` service on the delegate gRPC port, so Kubernetes gRPC
 * probes (and grpc-health-probe) work there. It reports the same readiness as `/readyz`, for the
 * server as a whole ("") and for the delegate service by name; Watch streams get every change.
 */
export class GrpcHealth {
  private readonly impl = new HealthImplementation();
  private readonly names: string[];
  private timer: NodeJS.Timeout | undefined;
  private current: ServingStatus | undefined;
  private stopped = false;

  constructor(
    private readonly ready: () => Promise<{ ready: boolean; checks: Record<string, string> }>,
    private readonly log: Logger,
    private readonly intervalMs = GRPC_HEALTH_INTERVAL_MS,
  ) {
    this.names = ['', DelegateService.typeName];
    this.set('NOT_SERVING', {});
  }

  addTo(server: grpc.Server): void {
    this.impl.addToServer(server);
  }

  /** Checks now, then every interval, until stop(). */
  start(): void {
    this.stopped = false;
    const tick = async () => {
      let status: ServingStatus;
      let checks: Record<string, string> = {};
      try {
        const r = await this.ready();
        status = r.ready ? 'SERVING' : 'NOT_SERVING';
        checks = r.checks;
      } catch (err) {
        status = 'NOT_SERVING';
        checks = { readiness: `failing: ${(err as Error).message}` };
      }
      if (this.stopped) return;
      this.set(status, checks);
      this.timer = setTimeout(() => void tick(), this.intervalMs);
    };
    void tick();
  }

  /** NOT_SERVING from now on (shutting down), and no more checks. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.set('NOT_SERVING', {});
  }

  private set(status: ServingStatus, checks: Record<string, string>): void {
    if (status === this.current) return;
    if (this.current !== undefined) this.log.info({ status, checks }, 'gRPC health changed');
    this.current = status;
    for (const name of this.names) this.impl.setStatus(name, status);
  }
}
