import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './types.ts';
import { guardPool } from './unavailable.ts';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** A database handle or an open transaction: repositories accept either. */
export type DbOrTx = Db | Tx;

// timestamptz → Date (pg's default); bigint stays a string (exact), parsed where read.
export interface DatabaseHandle {
  db: Db;
  pool: pg.Pool;
  url: string;
  close(): Promise<void>;
}

const silent = { warn() {}, debug() {} };

/**
 * The query pool. A connection lost at any moment (idle, or checked out between two statements)
 * is logged and dropped, never fatal; taking one waits at most CONNECT_TIMEOUT_MS (a database
 * that does not answer fails the request with 503 DATABASE_UNAVAILABLE instead of hanging it).
 */
export const CONNECT_TIMEOUT_MS = 10_000;

export function openDatabase(
  url: string,
  poolSize: number,
  log: Parameters<typeof guardPool>[1] = silent,
): DatabaseHandle {
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  });
  guardPool(pool, log, 'database pool');
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    url,
    async close() {
      await db.destroy();
    },
  };
}

export async function isDatabaseUp(db: Db): Promise<boolean> {
  try {
    await db.selectNoFrom((eb) => eb.val(1).as('one')).execute();
    return true;
  } catch {
    return false;
  }
}
