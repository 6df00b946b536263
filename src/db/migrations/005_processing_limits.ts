import { type Kysely, sql } from 'kysely';

/**
 * Limits on the work one user can ask for.
 * - `video_analysis.tool_crashes`: how often ffmpeg/ffprobe crashed (killed by a fault signal)
 *   on this video's input, across attempts, so the second crash fails it for good.
 * - `video_analysis.output_sizes`: bytes of each stored output ({key: bytes}), so converted
 *   outputs count toward the storage quota without listing storage.
 * - `processing_requests`: every retry and re-analysis a user asked for, counted per video and
 *   per user per day. A deleted video's requests still count toward its owner's day.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE video_analysis
      ADD COLUMN tool_crashes integer NOT NULL DEFAULT 0 CHECK (tool_crashes >= 0),
      ADD COLUMN output_sizes jsonb NOT NULL DEFAULT '{}'::jsonb;

    CREATE TABLE processing_requests (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      video_id uuid REFERENCES videos(id) ON DELETE SET NULL,
      kind text NOT NULL CHECK (kind IN ('retry', 'reprocess')),
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX processing_requests_user_idx ON processing_requests (user_id, created_at);
    CREATE INDEX processing_requests_video_idx ON processing_requests (video_id);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS processing_requests;
    ALTER TABLE video_analysis DROP COLUMN IF EXISTS tool_crashes, DROP COLUMN IF EXISTS output_sizes;
  `.execute(db);
}
