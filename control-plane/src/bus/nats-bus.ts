import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { NatsHealth } from '../nats/connect.js';
import type { Bus, BusEvents, BusTopic, Unsubscribe } from './bus.js';

export interface NatsBusOptions {
  /** Subjects are `<prefix>.<topic>`, e.g. attache.bus.task.queued. Default `attache.bus`. */
  prefix?: string;
  log: Logger;
}

/**
 * The bus between control-plane replicas, on core NATS. Every message here is a wake-up ("look at
 * the store again"), never state: a signal lost while a replica is disconnected costs latency only,
 * because the sweeper re-checks leases and timeouts and a freed slot or new connection pulls queued
 * work. The one signal whose loss matters beyond latency is token.revoked: a replica that misses it
 * keeps a live connection until that delegate reconnects (refused then: the store says revoked), so
 * NATS delegates additionally get short-lived credentials. JetStream would add persistence and acks
 * for messages nobody needs to replay, and a stream to run; core NATS gives fan-out to every replica
 * and per-publisher ordering, which is all the Bus contract asks for.
 */
export class NatsBus implements Bus {
  readonly kind = 'nats';
  readonly health: NatsHealth;
  private readonly prefix: string;
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  /** Takes ownership of `nc`: close() closes it. */
  constructor(
    private readonly nc: NatsConnection,
    private readonly options: NatsBusOptions,
  ) {
    this.prefix = options.prefix ?? 'attache.bus';
    this.health = new NatsHealth(nc, options.log);
  }

  async publish<T extends BusTopic>(topic: T, message: BusEvents[T]): Promise<void> {
    if (this.closed) return;
    // While disconnected nats.js buffers publishes and sends them on reconnect (up to its buffer);
    // past that a publish throws, which for a signal means a delay, not a loss of state.
    try {
      this.nc.publish(this.subject(topic), JSON.stringify(message));
    } catch (err) {
      this.options.log.warn({ err, topic }, 'bus publish dropped; the sweeper and the next event catch up');
    }
  }

  subscribe<T extends BusTopic>(topic: T, handler: (message: BusEvents[T]) => void): Unsubscribe {
    if (this.closed) return () => {};
    const sub = this.nc.subscribe(this.subject(topic), {
      callback: (err, msg) => {
        if (err) {
          this.options.log.error({ err, topic }, 'bus subscription failed');
          return;
        }
        let message: BusEvents[T];
        try {
          message = msg.json<BusEvents[T]>();
        } catch (error) {
          this.options.log.warn({ err: error, topic }, 'bus message is not JSON; dropped');
          return;
        }
        try {
          handler(message);
        } catch (error) {
          this.options.log.error({ err: error, topic }, 'bus handler failed');
        }
      },
    });
    this.subscriptions.add(sub);
    return () => {
      this.subscriptions.delete(sub);
      sub.unsubscribe();
    };
  }

  /** Resolves once the server has seen every subscription and publish sent so far (tests, start-up). */
  flush(): Promise<void> {
    return this.nc.flush();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscriptions.clear();
    await this.nc.drain().catch(() => this.nc.close());
  }

  private subject(topic: BusTopic): string {
    return `${this.prefix}.${topic}`;
  }
}
