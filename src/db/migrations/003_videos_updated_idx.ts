import { type Kysely, sql } from 'kysely';

/**
 * Live snapshots read a user's recently changed videos, newest change first (src/videos/repository.ts,
 * liveState); without this index that is a scan of all the user's videos.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX videos_user_updated_idx ON videos (user_id, updated_at DESC)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS videos_user_updated_idx`.execute(db);
}
