import { type Kysely, sql } from 'kysely';

/**
 * Enrichment (issue 10): a video is `ready` once its playable MP4 and poster exist; thumbnails,
 * storyboard, scenes, silences, loudness, waveform and transcript follow with their own state.
 * - `enrichment_status`: pending | running | ready | failed. Videos that were ready before this
 *   migration were fully analysed on the way (ready); the others start pending.
 * - `enrichment_step`, `enrichment_progress` (0–100), `enrichment_error_*`: what runs now, or
 *   why it stopped. Its failure never fails the video.
 * - `eta_seconds`: seconds left of the running ffmpeg step, from ffmpeg's speed (transcodes).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE video_analysis
      ADD COLUMN enrichment_status text NOT NULL DEFAULT 'pending'
        CHECK (enrichment_status IN ('pending', 'running', 'ready', 'failed')),
      ADD COLUMN enrichment_step text,
      ADD COLUMN enrichment_progress real NOT NULL DEFAULT 0,
      ADD COLUMN enrichment_error_code text,
      ADD COLUMN enrichment_error_message text,
      ADD COLUMN eta_seconds real;
    UPDATE video_analysis a SET enrichment_status = 'ready', enrichment_progress = 100
      FROM videos v WHERE v.id = a.video_id AND v.status = 'ready';
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    ALTER TABLE video_analysis
      DROP COLUMN IF EXISTS enrichment_status,
      DROP COLUMN IF EXISTS enrichment_step,
      DROP COLUMN IF EXISTS enrichment_progress,
      DROP COLUMN IF EXISTS enrichment_error_code,
      DROP COLUMN IF EXISTS enrichment_error_message,
      DROP COLUMN IF EXISTS eta_seconds;
  `.execute(db);
}
