import { type Kysely, sql } from 'kysely';

/**
 * Fixed-window attempt counters (sign-in and sign-up rate limits), shared by every API node so a
 * limit means the same with one node or ten. UNLOGGED: a crash may reset the counters, which
 * only forgives some attempts; in exchange counting costs no WAL.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE UNLOGGED TABLE rate_limits (
      key text PRIMARY KEY,
      count integer NOT NULL CHECK (count > 0),
      window_ends_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX rate_limits_window_ends_idx ON rate_limits (window_ends_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS rate_limits`.execute(db);
}
