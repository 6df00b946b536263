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
