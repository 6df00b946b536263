import { type Kysely, sql } from 'kysely';

/**
 * The state of a tus upload that goes straight into an S3 bucket (src/uploads/s3-upload-store.ts),
 * one row per video while its bytes are arriving, so any API node continues any upload:
 * - `s3_upload_id`: the multipart upload into `object_key`, created with the first full part
 *   (NULL while every byte so far fits in the tail);
 * - `parts`: `[{n, etag, size}]`, contiguous from part 1, each `part_size` bytes;
 * - `tail_size`: bytes after the last part, kept in the bucket as the object `tail_key`.
 * The upload's offset is the parts' bytes plus `tail_size`. No foreign key: the row must outlive
 * a deleted video until cleanup has aborted its multipart upload.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE s3_uploads (
      video_id uuid PRIMARY KEY,
      object_key text NOT NULL,
      tail_key text NOT NULL,
      size bigint NOT NULL CHECK (size >= 0),
      part_size integer NOT NULL CHECK (part_size >= 5242880),
      s3_upload_id text,
      parts jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(parts) = 'array'),
      tail_size bigint NOT NULL DEFAULT 0 CHECK (tail_size >= 0 AND tail_size < part_size),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CHECK (s3_upload_id IS NOT NULL OR jsonb_array_length(parts) = 0)
    )`.execute(db);
  await sql`CREATE INDEX s3_uploads_updated_idx ON s3_uploads (updated_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS s3_uploads`.execute(db);
}
