import { type Kysely, sql } from 'kysely';

/**
 * - `cleanup_runs`: every run of the cleanup sweep (scheduled, on demand, from the CLI), with
 *   its counts and one detail per item it looked at closely (what, why, what it did). A dry run
 *   is recorded too; it is the only thing a dry run writes.
 * - `video_storage_analysis`: the storage audit, per user and project (the seed plan's view):
 *   videos, bytes of originals, of outputs (video_analysis.output_sizes) and of partial
 *   uploads, and how many are ready / failed / processing / unfinished.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE cleanup_runs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      trigger text NOT NULL CHECK (trigger IN ('scheduled', 'manual', 'cli')),
      dry_run boolean NOT NULL,
      started_at timestamptz NOT NULL DEFAULT now(),
      finished_at timestamptz,
      examined integer NOT NULL DEFAULT 0 CHECK (examined >= 0),
      repaired integer NOT NULL DEFAULT 0 CHECK (repaired >= 0),
      errors integer NOT NULL DEFAULT 0 CHECK (errors >= 0),
      details jsonb NOT NULL DEFAULT '[]'::jsonb,
      requested_by uuid REFERENCES users(id) ON DELETE SET NULL
    )`.execute(db);
  await sql`CREATE INDEX cleanup_runs_started_idx ON cleanup_runs (started_at DESC)`.execute(db);
  await sql`
    CREATE VIEW video_storage_analysis AS
    SELECT
      v.user_id,
      u.email,
      v.project_id,
      p.name AS project_name,
      count(*)::int AS videos,
      coalesce(sum(v.received_bytes) FILTER (WHERE v.storage_key IS NOT NULL), 0)::bigint AS original_bytes,
      coalesce(sum(o.bytes), 0)::bigint AS output_bytes,
      coalesce(sum(v.received_bytes) FILTER (WHERE v.status IN ('pending_upload', 'uploading')), 0)::bigint AS partial_bytes,
      count(*) FILTER (WHERE v.status = 'ready')::int AS ready,
      count(*) FILTER (WHERE v.status = 'failed')::int AS failed,
      count(*) FILTER (WHERE v.status IN ('uploaded', 'processing'))::int AS processing,
      count(*) FILTER (WHERE v.status IN ('pending_upload', 'uploading'))::int AS unfinished
    FROM videos v
    JOIN users u ON u.id = v.user_id
    JOIN projects p ON p.id = v.project_id
    LEFT JOIN video_analysis a ON a.video_id = v.id
    LEFT JOIN LATERAL (
      SELECT sum(value::bigint) AS bytes FROM jsonb_each_text(a.output_sizes)
    ) o ON true
    GROUP BY v.user_id, u.email, v.project_id, p.name`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP VIEW IF EXISTS video_storage_analysis`.execute(db);
  await sql`DROP TABLE IF EXISTS cleanup_runs`.execute(db);
}
