import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.ts';

/**
 * Bytes counted against a user's quota: every video that holds, or is about to hold, stored
 * bytes (a video that failed before its bytes were stored holds none), plus the outputs the
 * pipeline stored for it (converted video, poster, thumbnails, storyboard, ...; sizes recorded in
 * `video_analysis.output_sizes`). Declared sizes count from the moment a session is created, so
 * parallel sessions cannot overrun the quota together.
 */
export async function storageUsedBytes(db: DbOrTx, userId: string): Promise<number> {
  const row = await db
    .selectFrom('videos as v')
    .leftJoin('video_analysis as a', 'a.video_id', 'v.id')
    .select(
      sql<string>`coalesce(sum(v.declared_size), 0) + coalesce(sum((SELECT sum(s.value::bigint) FROM jsonb_each_text(a.output_sizes) AS s)), 0)`.as(
        'used',
      ),
    )
    .where('v.user_id', '=', userId)
    .where('v.status', 'not in', ['canceled', 'upload_expired'])
    // A video refused during its upload (not a video) never stored anything.
    .where((eb) => eb.not(eb.and([eb('v.status', '=', 'failed'), eb('v.storage_key', 'is', null)])))
    .executeTakeFirstOrThrow();
  return Number(row.used);
}

/**
 * Users whose bytes (counted as `storageUsedBytes` counts them) reach `thresholdBytes`, with
 * their usage, for the quota alert. The conditions must stay those of `storageUsedBytes`.
 */
export async function usersUsingAtLeast(
  db: DbOrTx,
  thresholdBytes: number,
): Promise<Array<{ userId: string; email: string; usedBytes: number }>> {
  const rows = await sql<{ user_id: string; email: string; used: string }>`
    SELECT v.user_id, u.email,
           (coalesce(sum(v.declared_size), 0)
            + coalesce(sum((SELECT sum(s.value::bigint) FROM jsonb_each_text(a.output_sizes) AS s)), 0))::text AS used
    FROM videos v
    JOIN users u ON u.id = v.user_id
    LEFT JOIN video_analysis a ON a.video_id = v.id
    WHERE v.status NOT IN ('canceled', 'upload_expired')
      AND NOT (v.status = 'failed' AND v.storage_key IS NULL)
    GROUP BY v.user_id, u.email
    HAVING coalesce(sum(v.declared_size), 0)
           + coalesce(sum((SELECT sum(s.value::bigint) FROM jsonb_each_text(a.output_sizes) AS s)), 0) >= ${thresholdBytes}
    ORDER BY v.user_id
    LIMIT 1000`.execute(db);
  return rows.rows.map((r) => ({ userId: r.user_id, email: r.email, usedBytes: Number(r.used) }));
}
