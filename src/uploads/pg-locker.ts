import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/utils';
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import { backoffMs, guardPool, isDatabaseUnavailable } from '../db/unavailable.ts';
import { tusError } from './upload-store.ts';

/**
 * A tus Locker on PostgreSQL session advisory locks, so that any number of API nodes can serve the
 * requests of one upload, one request at a time.
 *
 * Invariants:
 * - A held lock owns one pooled connection until `unlock()`; the advisory lock lives exactly as
 *   long as that session, so a crashed node (connection gone) never leaves an upload locked.
 * - A waiter that cannot take the lock asks the holder to let go, as tus' MemoryLocker does: it
 *   NOTIFYs the upload id, and whichever node holds that id calls the holder's `requestRelease`
 *   (tus then ends the holding request after its drain timeout). This is what lets a client that
 *   lost its connection resume at once instead of waiting for a half-open request to time out.
 * - Taking a connection from the pool waits at most `poolTimeoutMs`: when every connection is
 *   held (as many upload requests in flight as the pool has connections), the request is refused
 *   with 503 UPLOADS_BUSY and Retry-After, never left hanging; tus clients retry it.
 */
export const LOCK_CHANNEL = 'clipdock_tus_lock';

export interface PgLockerOptions {
  databaseUrl: string;
  log: FastifyBaseLogger;
  /** Upper bound on locks held at once by this node (= concurrent tus requests). */
  maxConnections?: number;
  /** How long a request waits for another request on the same upload to let go. */
  acquireTimeoutMs?: number;
  /** How long a request waits for a free connection of the pool. */
  poolTimeoutMs?: number;
}

/** Seconds a client refused for lack of lock connections is told to wait (Retry-After). */
export const BUSY_RETRY_AFTER_SECONDS = 5;

/** The refusal when no lock connection frees up in time: tus renders it as 503. */
export const uploadsBusy = () => tusError('UPLOADS_BUSY');

export class PgLocker implements Locker {
  readonly pool: pg.Pool;
  readonly acquireTimeoutMs: number;
  /** Locks held by this node: upload id → their holders' release requests. */
  readonly held = new Map<string, Set<RequestRelease>>();
  /** Unlocks under way on this node: the next lock of the same id waits for its one. */
  readonly unlocking = new Map<string, Promise<void>>();
  private listener: pg.Client | undefined;
  private stopped = false;
  private readonly opts: PgLockerOptions;

  get log(): FastifyBaseLogger {
    return this.opts.log;
  }

  constructor(opts: PgLockerOptions) {
    this.opts = opts;
    this.acquireTimeoutMs = opts.acquireTimeoutMs ?? 30_000;
    this.pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.maxConnections ?? 16,
      idleTimeoutMillis: 10_000,
      // Also bounds the wait for a connection while all are held (pg-pool applies it to both).
      connectionTimeoutMillis: opts.poolTimeoutMs ?? 5_000,
    });
    guardPool(this.pool, opts.log, 'tus lock pool');
  }

  /**
   * Starts listening for release requests from other nodes. A lost listener connects again with
   * backoff for as long as it takes (an outage of the database), never giving up.
   */
  async start(): Promise<void> {
    const client = new pg.Client({
      connectionString: this.opts.databaseUrl,
      connectionTimeoutMillis: 10_000,
    });
    let lost = false;
    const onLost = (err?: Error) => {
      if (lost) return;
      lost = true;
      if (this.listener === client) this.listener = undefined;
      client.end().catch(() => {});
      if (this.stopped) return;
      this.opts.log.warn({ err }, 'tus lock listener lost; reconnecting');
      this.reconnectListener();
    };
    client.on('error', onLost);
    client.on('end', () => onLost());
    client.on('notification', (msg) => {
      if (msg.channel !== LOCK_CHANNEL || !msg.payload) return;
      for (const release of this.held.get(msg.payload) ?? []) void release();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${LOCK_CHANNEL}`);
    } catch (err) {
      lost = true;
      client.removeAllListeners('end');
      await client.end().catch(() => {});
      throw err;
    }
    this.listenerAttempt = 0;
    this.listener = client;
  }

  private listenerAttempt = 0;

  private reconnectListener(): void {
    if (this.stopped) return;
    const delay = backoffMs(this.listenerAttempt++);
    setTimeout(() => {
      if (this.stopped) return;
      this.start().catch((err: unknown) => {
        this.opts.log.warn({ err }, 'tus lock listener could not reconnect; retrying');
        this.reconnectListener();
      });
    }, delay).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.unlocking.values());
    await this.listener?.end().catch(() => {});
    await this.pool.end();
  }

  newLock(id: string): Lock {
    return new PgLock(this, id);
  }
}

const isPoolTimeout = (err: unknown) =>
  /timeout exceeded when trying to connect/.test((err as Error)?.message ?? '');

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

class PgLock implements Lock {
  private readonly locker: PgLocker;
  private readonly id: string;
  private client: pg.PoolClient | undefined;
  private release: RequestRelease | undefined;
  private onLost: ((err: Error) => void) | undefined;

  constructor(locker: PgLocker, id: string) {
    this.locker = locker;
    this.id = id;
  }

  async lock(stopSignal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    await this.locker.unlocking.get(this.id);
    let client: pg.PoolClient;
    try {
      client = await this.locker.pool.connect();
    } catch (err) {
      // The database is down: say so (503, Retry-After); tus clients retry.
      if (isDatabaseUnavailable(err) && !isPoolTimeout(err)) {
        this.locker.log.warn({ err }, 'database unavailable for the tus lock; refusing with 503');
        throw tusError('DATABASE_UNAVAILABLE');
      }
      // Every connection is held, or the database did not answer in time: either way, later.
      this.locker.log.warn({ err }, 'no tus lock connection free in time; refusing with 503');
      throw uploadsBusy();
    }
    const deadline = Date.now() + this.locker.acquireTimeoutMs;
    let lastNudge = 0;
    let delay = 20;
    try {
      for (;;) {
        if (stopSignal.aborted || Date.now() > deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
        const { rows } = await client.query<{ ok: boolean }>(
          `SELECT pg_try_advisory_lock(hashtextextended('tus:' || $1, 0)) AS ok`,
          [this.id],
        );
        if (rows[0]?.ok) break;
        if (Date.now() - lastNudge > 1000) {
          lastNudge = Date.now();
          await client.query('SELECT pg_notify($1, $2)', [LOCK_CHANNEL, this.id]);
        }
        await sleep(delay, stopSignal);
        delay = Math.min(delay * 2, 250);
      }
    } catch (err) {
      client.release();
      throw err;
    }
    // The session (and with it the advisory lock) can end while the request writes: a restart
    // or failover of the database, pg_terminate_backend. Another request may then take the lock,
    // so this one is asked to stop; its bytes so far are kept, and the client resumes.
    this.onLost = (err: Error) => {
      this.locker.log.warn(
        { err: { code: (err as { code?: string }).code, message: err.message }, uploadId: this.id },
        'tus lock connection lost; ending the request that held it',
      );
      void requestRelease();
    };
    client.on('error', this.onLost);
    this.client = client;
    this.release = requestRelease;
    const holders = this.locker.held.get(this.id) ?? new Set<RequestRelease>();
    holders.add(requestRelease);
    this.locker.held.set(this.id, holders);
  }

  /**
   * Releases without making the reply wait for the round trip: the next request for this id on
   * this node waits for it in `lock()`, and one on another node retries until the database has
   * released it. Destroying the connection on failure ends its session, which releases too.
   */
  async unlock(): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('Releasing an unlocked lock!');
    this.client = undefined;
    if (this.onLost) client.removeListener('error', this.onLost);
    const holders = this.locker.held.get(this.id);
    if (this.release) holders?.delete(this.release);
    if (holders?.size === 0) this.locker.held.delete(this.id);
    const unlocking = this.locker.unlocking;
    const done: Promise<void> = client
      .query(`SELECT pg_advisory_unlock(hashtextextended('tus:' || $1, 0))`, [this.id])
      .then(
        () => client.release(),
        (err: Error) => client.release(err),
      )
      .finally(() => {
        if (unlocking.get(this.id) === done) unlocking.delete(this.id);
      });
    unlocking.set(this.id, done);
  }
}
