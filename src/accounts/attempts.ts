import { sql } from 'kysely';
import type { Db } from '../db/database.ts';

/**
 * Counts one attempt under `key` in a fixed window of `windowMs` (table rate_limits, one row per
 * key, shared by every API node): the first attempt opens the window, later ones add to it until
 * it ends. One statement, so concurrent attempts on any node never lose a count.
 * Returns the count including this attempt and the milliseconds until the window ends.
 */
export async function countAttempt(
  db: Db,
  key: string,
  windowMs: number,
): Promise<{ current: number; ttl: number }> {
  const window = `${Math.max(1, Math.trunc(windowMs))} milliseconds`;
  const { rows } = await sql<{ count: number; ttl: number }>`
    INSERT INTO rate_limits AS r (key, count, window_ends_at)
    VALUES (${key}, 1, now() + ${window}::interval)
    ON CONFLICT (key) DO UPDATE SET
      count = CASE WHEN r.window_ends_at <= now() THEN 1 ELSE r.count + 1 END,
      window_ends_at = CASE WHEN r.window_ends_at <= now()
        THEN now() + ${window}::interval ELSE r.window_ends_at END
    RETURNING count, ceil(extract(epoch FROM window_ends_at - now()) * 1000)::float8 AS ttl
  `.execute(db);
  const row = rows[0]!;
  maybeSweep(db);
  return { current: row.count, ttl: Math.max(0, row.ttl) };
}

let sinceSweep = 0;

/** Every 500th attempt on a node deletes ended windows, so keys sprayed once do not pile up. */
function maybeSweep(db: Db): void {
  if (++sinceSweep < 500) return;
  sinceSweep = 0;
  void sql`DELETE FROM rate_limits WHERE window_ends_at < now()`.execute(db).catch(() => {});
}
