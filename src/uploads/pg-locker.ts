import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/utils';
import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
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
    this.pool.on('error', (err) => opts.log.warn({ err }, 'tus lock connection error'));
  }

  /** Starts listening for release requests from other nodes. */
  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.opts.databaseUrl });
    client.on('error', (err) => {
      this.opts.log.warn({ err }, 'tus lock listener lost; reconnecting');
      this.listener = undefined;
      client.end().catch(() => {});
      if (!this.stopped) setTimeout(() => this.start().catch(() => {}), 1000).unref();
    });
    client.on('notification', (msg) => {
      if (msg.channel !== LOCK_CHANNEL || !msg.payload) return;
      for (const release of this.held.get(msg.payload) ?? []) void release();
    });
    await client.connect();
    await client.query(`LISTEN ${LOCK_CHANNEL}`);
    this.listener = client;
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
