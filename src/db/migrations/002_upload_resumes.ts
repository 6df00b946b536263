import { type Kysely, sql } from 'kysely';

/**
 * How many times a client came back to an unfinished upload (tus HEAD while uploading), kept on
 * the video so any API node can count it; copied into upload_metrics.resumes when it finishes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE videos ADD COLUMN upload_resumes integer NOT NULL DEFAULT 0 CHECK (upload_resumes >= 0)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE videos DROP COLUMN upload_resumes`.execute(db);
}
