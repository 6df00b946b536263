import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { backoffMs, isDatabaseUnavailable } from '../db/unavailable.ts';

/**
 * The run lock of one video: a session advisory lock on a connection of its own, held for the
 * whole run. It is the lease that says "a live runner works on this video": PostgreSQL drops it
 * the moment the runner's process (or its connection) dies, which the recovery sweep checks.
 *
 * When the connection is lost while the runner lives (a database restart, a failover,
 * pg_terminate_backend), the lease is taken again on a new connection, with backoff, as soon as
 * the database answers. If another runner took it meanwhile (recovery judged this one dead),
 * `stillHeld()` says so, and this run stops without writing anything more.
 */
export const LOCK_NAMESPACE = 'clipdock.process_video';

const TRY_LOCK = 'SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok';

export class RunLock {
  private client: pg.Client | undefined;
  private state: 'held' | 'lost' | 'taken' | 'released' = 'lost';
  private reacquiring: Promise<void> | undefined;
  private readonly databaseUrl: string;
  private readonly videoId: string;
  private readonly log: FastifyBaseLogger;

  constructor(databaseUrl: string, videoId: string, log: FastifyBaseLogger) {
    this.databaseUrl = databaseUrl;
    this.videoId = videoId;
    this.log = log;
  }

  /** Takes the lock; false when another runner holds it. */
  async acquire(): Promise<boolean> {
    const client = await this.connect();
    this.client = client;
    const got = await this.tryOn(client);
    this.state = got ? 'held' : 'taken';
    return got;
  }

  /**
   * Whether this run still holds the lease; after a lost connection, waits (with backoff) until
   * the database answers and the lock is taken again, or found taken by another runner.
   */
  async stillHeld(signal?: AbortSignal): Promise<boolean> {
    if (this.state === 'lost') await this.reacquire(signal);
    return this.state === 'held';
  }

  async release(): Promise<void> {
    this.state = 'released';
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.databaseUrl, connectionTimeoutMillis: 10_000 });
    client.on('error', (err) => this.onLost(client, err));
    client.on('end', () => this.onLost(client));
    await client.connect();
    return client;
  }

  private async tryOn(client: pg.Client): Promise<boolean> {
    const r = await client.query<{ ok: boolean }>(TRY_LOCK, [LOCK_NAMESPACE, this.videoId]);
    return !!r.rows[0]?.ok;
  }

  private onLost(client: pg.Client, err?: Error): void {
    if (client !== this.client || this.state !== 'held') return;
    this.client = undefined;
    this.state = 'lost';
    client.end().catch(() => {});
    this.log.warn(
      { videoId: this.videoId, err: err && { message: err.message, code: (err as { code?: string }).code } },
      'run lock connection lost; taking the lock again once the database answers',
    );
    void this.reacquire().catch(() => {});
  }

  private reacquire(signal?: AbortSignal): Promise<void> {
    this.reacquiring ??= (async () => {
      for (let attempt = 0; this.state === 'lost'; attempt++) {
        let client: pg.Client | undefined;
        try {
          client = await this.connect();
          const got = await this.tryOn(client);
          // Released meanwhile (the run ended), or taken by another runner: this connection
          // (and the lock it may hold) must not outlive this call.
          if (this.state !== 'lost' || !got) {
            await client.end().catch(() => {});
            if (this.state === 'lost') {
              this.state = 'taken';
              this.log.warn(
                { videoId: this.videoId },
                'another runner took the video meanwhile; this run stops',
              );
            }
            return;
          }
          this.client = client;
          this.state = 'held';
        } catch (err) {
          await client?.end().catch(() => {});
          if (!isDatabaseUnavailable(err) || signal?.aborted) throw err;
          await new Promise((r) => setTimeout(r, backoffMs(attempt, 250, 2000)));
        }
      }
    })().finally(() => {
      this.reacquiring = undefined;
    });
    return this.reacquiring;
  }
}

/** Whether some process holds the video's run lock right now (the recovery sweep's check). */
export async function isVideoLocked(client: pg.Client, videoId: string): Promise<boolean> {
  const r = await client.query<{ ok: boolean }>(TRY_LOCK, [LOCK_NAMESPACE, videoId]);
  if (r.rows[0]?.ok) {
    await client.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [LOCK_NAMESPACE, videoId]);
    return false;
  }
  return true;
}
