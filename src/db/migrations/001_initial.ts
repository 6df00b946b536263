import { type Kysely, sql } from 'kysely';

/**
 * The whole first schema. Every invariant the data needs lives here as a constraint:
 * one analysis row per video, balances that cannot go negative, a reservation settled at most once.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      email text NOT NULL,
      password_hash text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE UNIQUE INDEX users_email_key ON users (lower(email));

    CREATE TABLE api_tokens (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      token_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      expires_at timestamptz
    );
    CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

    CREATE TABLE projects (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
      is_default boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX projects_user_idx ON projects (user_id, created_at);
    CREATE UNIQUE INDEX projects_one_default ON projects (user_id) WHERE is_default;

    CREATE TABLE upload_sessions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
      file_count integer NOT NULL CHECK (file_count > 0),
      total_bytes bigint NOT NULL CHECK (total_bytes >= 0),
      uploaded_count integer NOT NULL DEFAULT 0 CHECK (uploaded_count >= 0),
      failed_count integer NOT NULL DEFAULT 0 CHECK (failed_count >= 0),
      uploaded_bytes bigint NOT NULL DEFAULT 0 CHECK (uploaded_bytes >= 0),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz
    );
    CREATE INDEX upload_sessions_user_idx ON upload_sessions (user_id, created_at DESC);

    CREATE TABLE videos (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
      session_id uuid REFERENCES upload_sessions(id) ON DELETE SET NULL,
      name text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
      status text NOT NULL DEFAULT 'pending_upload' CHECK (status IN
        ('pending_upload','uploading','uploaded','processing','ready','failed','canceled','upload_expired')),
      declared_size bigint NOT NULL CHECK (declared_size >= 0),
      received_bytes bigint NOT NULL DEFAULT 0 CHECK (received_bytes >= 0),
      declared_type text,
      mime_type text,
      upload_id text UNIQUE,
      storage_key text,
      upload_progress real NOT NULL DEFAULT 0 CHECK (upload_progress BETWEEN 0 AND 100),
      upload_started_at timestamptz,
      upload_completed_at timestamptz,
      retry_count integer NOT NULL DEFAULT 0,
      error_code text,
      error_message text,
      checksum_sha256 text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    -- Library paging: newest first, keyset on (created_at, id).
    CREATE INDEX videos_user_created_idx ON videos (user_id, created_at DESC, id DESC);
    CREATE INDEX videos_project_created_idx ON videos (project_id, created_at DESC, id DESC);
    CREATE INDEX videos_user_status_created_idx ON videos (user_id, status, created_at DESC, id DESC);
    CREATE INDEX videos_session_idx ON videos (session_id);
    -- Expiry sweep: uploads that never finished.
    CREATE INDEX videos_unfinished_idx ON videos (created_at) WHERE status IN ('pending_upload','uploading');

    CREATE TABLE video_analysis (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      video_id uuid NOT NULL UNIQUE REFERENCES videos(id) ON DELETE CASCADE,
      processing_step text,
      step_progress real NOT NULL DEFAULT 0 CHECK (step_progress BETWEEN 0 AND 100),
      overall_progress real NOT NULL DEFAULT 0 CHECK (overall_progress BETWEEN 0 AND 100),
      last_progress_update timestamptz,
      checkpoint jsonb NOT NULL DEFAULT '{}'::jsonb,
      attempts integer NOT NULL DEFAULT 0,
      retry_after timestamptz,
      error_code text,
      error_message text,
      metadata jsonb,
      results jsonb NOT NULL DEFAULT '{}'::jsonb,
      outputs jsonb NOT NULL DEFAULT '{}'::jsonb,
      started_at timestamptz,
      completed_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE credit_accounts (
      user_id uuid PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
      balance integer NOT NULL CHECK (balance >= 0),
      reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
      updated_at timestamptz NOT NULL DEFAULT now()
    );

    -- One reservation per attempt at a video. Settled (captured or released) at most once:
    -- settlement is a conditional UPDATE ... WHERE state = 'reserved'.
    CREATE TABLE credit_reservations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      video_id uuid REFERENCES videos(id) ON DELETE SET NULL,
      amount integer NOT NULL CHECK (amount >= 0),
      state text NOT NULL DEFAULT 'reserved' CHECK (state IN ('reserved','captured','released')),
      created_at timestamptz NOT NULL DEFAULT now(),
      settled_at timestamptz
    );
    CREATE UNIQUE INDEX credit_reservations_one_open ON credit_reservations (video_id) WHERE state = 'reserved';
    CREATE INDEX credit_reservations_user_idx ON credit_reservations (user_id, created_at DESC);

    -- The ledger: every movement of credits, each at most once per reservation and kind.
    CREATE TABLE credit_entries (
      id bigserial PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      reservation_id uuid REFERENCES credit_reservations(id) ON DELETE SET NULL,
      kind text NOT NULL CHECK (kind IN ('grant','reserve','capture','release')),
      amount integer NOT NULL,
      idempotency_key text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX credit_entries_user_idx ON credit_entries (user_id, created_at DESC);

    CREATE TABLE cleanup_jobs (
      id bigserial PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('delete_object','delete_prefix','delete_upload')),
      target text NOT NULL,
      reason text NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      last_error text,
      done_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX cleanup_jobs_pending_idx ON cleanup_jobs (created_at) WHERE done_at IS NULL;

    CREATE TABLE upload_metrics (
      id bigserial PRIMARY KEY,
      video_id uuid REFERENCES videos(id) ON DELETE SET NULL,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      size_bytes bigint NOT NULL,
      duration_ms integer NOT NULL,
      bytes_per_second double precision NOT NULL,
      resumes integer NOT NULL DEFAULT 0,
      error_type text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX upload_metrics_user_idx ON upload_metrics (user_id, created_at DESC);
    CREATE INDEX upload_metrics_video_idx ON upload_metrics (video_id);

    CREATE TABLE timeline_items (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      video_id uuid NOT NULL REFERENCES videos(id) ON DELETE CASCADE,
      position integer NOT NULL CHECK (position >= 0),
      in_seconds double precision NOT NULL DEFAULT 0 CHECK (in_seconds >= 0),
      out_seconds double precision CHECK (out_seconds IS NULL OR out_seconds > in_seconds),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT timeline_items_position_key UNIQUE (project_id, position) DEFERRABLE INITIALLY DEFERRED
    );
    CREATE INDEX timeline_items_video_idx ON timeline_items (video_id);
  `.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS timeline_items, upload_metrics, cleanup_jobs, credit_entries, credit_reservations,
      credit_accounts, video_analysis, videos, upload_sessions, projects, api_tokens, users CASCADE;
  `.execute(db);
}
