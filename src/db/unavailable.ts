import type pg from 'pg';

/**
 * What a lost or unreachable PostgreSQL looks like from node-postgres, and the guards that keep
 * such an error from ending the process.
 *
 * Invariant: every pg client and pool Clipdock creates has an 'error' listener for its whole life
 * (an EventEmitter 'error' without one throws, and ends the process). pg-pool only listens on
 * idle clients; a checked-out client (a transaction between statements, a held tus lock) has
 * none unless `guardPool` gave it one.
 */

/** Seconds a client refused because the database is down is told to wait (Retry-After). */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** Connection-level failures: the server is gone, restarting, refusing, or not answering. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  '57P01', // admin_shutdown: pg_terminate_backend, a fast or smart shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: starting up or shutting down
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);
/** node-postgres' own errors, which carry no code. */
const UNAVAILABLE_MESSAGES =
  /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable|Client was closed and is not queryable|Connection terminated due to connection timeout/;

/** Whether `err` (or an error it wraps) says the database cannot be reached right now. */
export function isDatabaseUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const { code, message, cause, errors } = e as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)) return true;
    // An AggregateError of a connect to several addresses (IPv4 and IPv6): all refused.
    if (Array.isArray(errors) && errors.length > 0 && errors.every((x) => isDatabaseUnavailable(x)))
      return true;
    e = cause;
  }
  return false;
}

interface Warner {
  warn(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

/**
 * Gives a pool and each of its clients an 'error' listener for good: a connection that dies
 * while idle or while checked out is logged, and the pool drops it (its next query fails, and
 * the client is not reused: pg-pool removes a client that is no longer queryable on release).
 */
export function guardPool(pool: pg.Pool, log: Warner, what: string): void {
  pool.on('error', (err) => logLost(log, err, `${what}: idle connection lost`));
  pool.on('connect', (client) => {
    client.on('error', (err) => logLost(log, err, `${what}: connection lost`));
  });
}

/** A single client's guard (a LISTEN connection, a run lock's session). */
export function guardClient(client: pg.Client, log: Warner, what: string): void {
  client.on('error', (err) => logLost(log, err, `${what}: connection lost`));
}

function logLost(log: Warner, err: Error, msg: string): void {
  // 57P01 is also what the embedded PostgreSQL sends every connection when Ctrl-C stops both:
  // expected at shutdown, so not worth a warning (places that care log their own loss).
  const code = (err as { code?: string }).code;
  if (code === '57P01') log.debug({ err: { code, message: err.message } }, msg);
  else if (isDatabaseUnavailable(err)) log.warn({ err: { code, message: err.message } }, msg);
  else log.warn({ err }, msg);
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Capped exponential backoff with jitter: 0.5..1 × min(max, base × 2^attempt). */
export function backoffMs(attempt: number, baseMs = 500, maxMs = 10_000): number {
  const b = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(b * (0.5 + Math.random() * 0.5));
}

/**
 * Runs `fn` until it succeeds, waiting with backoff while the database is unavailable; any
 * other error is thrown at once, and so is the last one once `signal` is aborted.
 */
export async function whileDatabaseDown<T>(
  fn: () => Promise<T>,
  opts: { signal?: AbortSignal; onWait?: (err: unknown, attempt: number) => void } = {},
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isDatabaseUnavailable(err) || opts.signal?.aborted) throw err;
      opts.onWait?.(err, attempt);
      await sleep(backoffMs(attempt), opts.signal);
      if (opts.signal?.aborted) throw err;
    }
  }
}
