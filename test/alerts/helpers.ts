import { sql } from 'kysely';
import type { Db } from '../../src/db/database.ts';
import type { VideoStatus } from '../../src/db/types.ts';
import { defaultProjectId } from '../live/helpers.ts';

/** A video row in a given state, as the pipeline would have left it. */
export async function videoIn(
  db: Db,
  userId: string,
  status: VideoStatus,
  opts: { size?: number; errorCode?: string; stored?: boolean } = {},
): Promise<string> {
  const row = await db
    .insertInto('videos')
    .values({
      user_id: userId,
      project_id: await defaultProjectId(db, userId),
      name: `${status}.mp4`,
      status,
      declared_size: opts.size ?? 1000,
      received_bytes: opts.size ?? 1000,
      error_code: opts.errorCode ?? null,
      storage_key: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (opts.stored ?? status !== 'failed') {
    await db
      .updateTable('videos')
      .set({ storage_key: `videos/${row.id}/original` })
      .where('id', '=', row.id)
      .execute();
  }
  return row.id;
}

/** Moves a video's last change (and its processing heartbeat, if any) `minutes` into the past. */
export async function age(db: Db, videoId: string, minutes: number): Promise<void> {
  await sql`UPDATE videos SET updated_at = now() - make_interval(mins => ${minutes}) WHERE id = ${videoId}`.execute(
    db,
  );
  await sql`
    UPDATE video_analysis SET last_progress_update = now() - make_interval(mins => ${minutes}),
                              updated_at = now() - make_interval(mins => ${minutes})
    WHERE video_id = ${videoId}`.execute(db);
}
