import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import type { BusMessage, BusSubscriber, VideoEventBus } from './event-bus.ts';
import { ProgressThrottle } from './progress-throttle.ts';
import { parseVideoEvent, VIDEO_CHANNEL } from './video-events.ts';

export interface PgEventBusOptions {
  databaseUrl: string;
  log: FastifyBaseLogger;
  /** Minimum gap between two progress events of one video. */
  progressIntervalMs?: number;
  /** How often the idle listener checks its connection (a half-open TCP connection hears nothing). */
  healthCheckMs?: number;
  maxBackoffMs?: number;
}

export const LISTENER_APPLICATION_NAME = 'clipdock:video-listener';

/**
 * The event bus on PostgreSQL LISTEN/NOTIFY. Producers anywhere (API nodes, workers) publish in
 * their transactions; each API node keeps ONE dedicated connection that LISTENs and fans the
 * events out in-process. When that connection is lost, it reconnects with capped exponential
 * backoff, LISTENs again, and only then announces `resync`: anything committed after the new
 * LISTEN arrives as an event, anything before it is in the database that subscribers re-read.
 */
export class PgEventBus implements VideoEventBus {
  private readonly opts: Required<PgEventBusOptions>;
  private readonly subscribers = new Set<BusSubscriber>();
  private readonly throttle: ProgressThrottle;
  private client: pg.Client | undefined;
  private stopped = false;
  private everConnected = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private attempt = 0;

  constructor(opts: PgEventBusOptions) {
    this.opts = { progressIntervalMs: 250, healthCheckMs: 30_000, maxBackoffMs: 10_000, ...opts };
    this.throttle = new ProgressThrottle(this.opts.progressIntervalMs, (event) =>
      this.fanOut({ kind: 'event', event }),
    );
  }

  get listenerPid(): number | undefined {
    return (this.client as unknown as { processID?: number } | undefined)?.processID ?? undefined;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.healthTimer);
    this.throttle.flush();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => {});
  }

  subscribe(subscriber: BusSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  private fanOut(message: BusMessage): void {
    for (const s of this.subscribers) {
      try {
        s(message);
      } catch (err) {
        this.opts.log.error({ err }, 'event subscriber failed');
      }
    }
  }

  /** One connection attempt; on failure schedules the next. The first attempt's failure is thrown. */
  private async connect(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.opts.databaseUrl,
      application_name: LISTENER_APPLICATION_NAME,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      // A database that does not answer (a black-holed network) fails the attempt, which is
      // then retried with backoff, instead of leaving the listener waiting for good.
      connectionTimeoutMillis: 10_000,
      // Bounds the health check on a half-open connection, which would otherwise wait forever.
      query_timeout: 10_000,
    });
    client.on('notification', (msg) => {
      if (msg.channel !== VIDEO_CHANNEL || client !== this.client) return;
      const event = parseVideoEvent(msg.payload);
      if (event) this.throttle.push(event);
      else this.opts.log.warn({ payload: msg.payload?.slice(0, 200) }, 'ignored malformed video event');
    });
    // Both fire when the server ends the session (restart, pg_terminate_backend, network loss).
    const lost = (err?: Error) => this.onLost(client, err);
    client.on('error', lost);
    client.on('end', () => lost());
    try {
      await client.connect();
      await client.query(`LISTEN ${VIDEO_CHANNEL}`);
    } catch (err) {
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      if (!this.everConnected && this.attempt === 0) throw err;
      this.opts.log.warn({ err }, 'event listener could not reconnect; retrying');
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    const wasConnected = this.everConnected;
    this.client = client;
    this.everConnected = true;
    this.attempt = 0;
    clearInterval(this.healthTimer);
    this.healthTimer = setInterval(() => {
      client.query('SELECT 1').catch((err: Error) => this.onLost(client, err));
    }, this.opts.healthCheckMs);
    this.healthTimer.unref();
    if (wasConnected) {
      this.opts.log.info('event listener reconnected; resynchronising');
      this.fanOut({ kind: 'resync' });
    }
  }

  private onLost(client: pg.Client, err?: Error): void {
    if (client !== this.client || this.stopped) return;
    this.opts.log.warn({ err }, 'event listener connection lost; reconnecting');
    this.client = undefined;
    clearInterval(this.healthTimer);
    client.end().catch(() => {});
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const base = Math.min(this.opts.maxBackoffMs, 100 * 2 ** this.attempt);
    this.attempt++;
    const delay = base / 2 + Math.random() * (base / 2);
    this.reconnectTimer = setTimeout(() => {
      this.connect().catch((err) => {
        this.opts.log.warn({ err }, 'event listener reconnect failed');
        this.scheduleReconnect();
      });
    }, delay);
    this.reconnectTimer.unref();
  }
}
