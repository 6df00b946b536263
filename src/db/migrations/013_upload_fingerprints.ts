import { type Kysely, sql } from 'kysely';

/**
 * Duplicate detection (src/uploads/duplicates.ts): the web app sends a fingerprint of each file
 * (hex SHA-256 of its first and last MiB) when it opens an upload session, and asks, before
 * sending a file, whether a video of the same size and fingerprint exists already. Null for
 * videos made before this migration and for clients that send none.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE videos ADD COLUMN fingerprint text CHECK (fingerprint ~ '^[0-9a-f]{64}$')`.execute(
    db,
  );
  await sql`
    CREATE INDEX videos_fingerprint_idx ON videos (user_id, declared_size, fingerprint)
    WHERE fingerprint IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS videos_fingerprint_idx`.execute(db);
  await sql`ALTER TABLE videos DROP COLUMN IF EXISTS fingerprint`.execute(db);
}
