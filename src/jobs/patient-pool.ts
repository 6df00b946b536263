import pg from 'pg';
import { guardPool, whileDatabaseDown } from '../db/unavailable.ts';

interface Log {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/**
 * The pool graphile-worker runs on: taking a connection waits out a database outage instead of
 * failing.
 *
 * Why: graphile-worker records a job's end (completeJob/failJob) in a promise nobody awaits, and
 * retries only a few error codes (not ECONNREFUSED, not 57P01). A job that ended during an
 * outage therefore rejected unhandled, which ended the whole process and left the job locked.
 * With this pool the record waits until the database is back and is then written: the job is
 * completed, or failed and retried, as if nothing happened.
 *
 * The callback form of `connect()` (graphile-worker's LISTEN, which reconnects on its own) is
 * passed through. `stopWaiting()` ends the waiting: what waited then fails, as at any shutdown.
 */
export class PatientPool extends pg.Pool {
  private readonly stopping = new AbortController();
  private readonly clog: Log;
  private outage = false;

  constructor(config: pg.PoolConfig, log: Log, what: string) {
    super(config);
    this.clog = log;
    guardPool(this, log, what);
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(
    callback: (
      err: Error | undefined,
      client: pg.PoolClient | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): void;
  override connect(
    callback?: (
      err: Error | undefined,
      client: pg.PoolClient | undefined,
      done: (release?: unknown) => void,
    ) => void,
  ): Promise<pg.PoolClient> | undefined {
    if (callback) {
      super.connect(callback);
      return undefined;
    }
    return whileDatabaseDown(() => super.connect(), {
      signal: this.stopping.signal,
      onWait: (err) => {
        if (this.outage) return;
        this.outage = true;
        this.clog.warn(
          { err: { message: (err as Error).message, code: (err as { code?: string }).code } },
          'database unavailable; the worker waits for the database before it records a job',
        );
      },
    }).then((client) => {
      if (this.outage) {
        this.outage = false;
        this.clog.info({}, 'database reachable again; the worker goes on');
      }
      return client;
    });
  }

  /** Ends every wait for the database (at shutdown, before the runner is stopped). */
  stopWaiting(): void {
    this.stopping.abort();
  }
}
