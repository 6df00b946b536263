import { type Kysely, sql } from 'kysely';

/**
 * Alerts (src/alerts/): one row per episode of a rule firing for a subject (a user, or '' for
 * the whole server), from its first firing to its resolution. At most one firing row per rule
 * and subject (partial unique index), so concurrent evaluations cannot open the same alert
 * twice. `notified_*_at` record when ALERT_WEBHOOK_URL accepted each announcement.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE alerts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      rule text NOT NULL CHECK (rule IN ('failure_rate', 'queue_age', 'video_stuck', 'quota', 'disk_low')),
      subject text NOT NULL DEFAULT '',
      state text NOT NULL DEFAULT 'firing' CHECK (state IN ('firing', 'resolved')),
      summary text NOT NULL,
      details jsonb NOT NULL DEFAULT '{}'::jsonb,
      first_fired_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      resolved_at timestamptz,
      notified_firing_at timestamptz,
      notified_resolved_at timestamptz,
      last_notify_error text,
      CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX alerts_one_firing_idx ON alerts (rule, subject) WHERE state = 'firing'`.execute(
    db,
  );
  await sql`CREATE INDEX alerts_recent_idx ON alerts (first_fired_at DESC)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS alerts`.execute(db);
}
