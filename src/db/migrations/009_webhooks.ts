import { type Kysely, sql } from 'kysely';

/**
 * Outgoing webhooks (src/webhooks/). `webhooks`: an owner's endpoint, the events it wants and
 * its signing secret, kept as issued (`whsec_…`) because every delivery must sign with it.
 * `webhook_deliveries`: one row per event per endpoint, with its body fixed at the moment of the
 * change (so every retry sends the same bytes) and the state of its attempts. No foreign key to
 * the video: `video.deleted` outlives it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE webhooks (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      project_id uuid REFERENCES projects(id) ON DELETE CASCADE,
      url text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
      events text[] NOT NULL CHECK (
        cardinality(events) > 0
        AND events <@ ARRAY[
          'video.uploaded', 'video.ready', 'video.failed', 'video.deleted', 'video.analysis.ready'
        ]::text[]
      ),
      secret text NOT NULL CHECK (secret LIKE 'whsec\\_%'),
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE INDEX webhooks_user_idx ON webhooks (user_id, created_at)`.execute(db);
  await sql`
    CREATE TABLE webhook_deliveries (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      webhook_id uuid NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
      event_type text NOT NULL,
      video_id uuid NOT NULL,
      payload jsonb NOT NULL,
      status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
      attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      last_status_code integer,
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_attempt_at timestamptz,
      next_attempt_at timestamptz DEFAULT now(),
      delivered_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX webhook_deliveries_webhook_idx ON webhook_deliveries (webhook_id, created_at DESC)`.execute(
    db,
  );
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS webhook_deliveries`.execute(db);
  await sql`DROP TABLE IF EXISTS webhooks`.execute(db);
}
