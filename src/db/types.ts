import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

/** Kysely's view of the schema in `migrations/`. Keep the two in step. */

type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
/** bigint columns come back from pg as strings; we parse them where read. */
type BigIntCol = ColumnType<string, number | bigint | string, number | bigint | string>;
/** A bigint column with a default: optional on insert. (DefaultedBigIntCol would nest ColumnTypes.) */
type DefaultedBigIntCol = ColumnType<string, number | bigint | string | undefined, number | bigint | string>;
type Json<T> = ColumnType<T, T | string | undefined, T | string>;

export const VIDEO_STATUSES = [
  'pending_upload',
  'uploading',
  'uploaded',
  'processing',
  'ready',
  'failed',
  'canceled',
  'upload_expired',
] as const;
export type VideoStatus = (typeof VIDEO_STATUSES)[number];

export interface UsersTable {
  id: Generated<string>;
  email: string;
  password_hash: string;
  created_at: Generated<Date>;
}

export interface ApiTokensTable {
  id: Generated<string>;
  user_id: string;
  token_hash: string;
  created_at: Generated<Date>;
  last_used_at: NullableTimestamp;
  expires_at: NullableTimestamp;
  name: string;
}

export interface AuthSessionsTable {
  id: Generated<string>;
  user_id: string;
  token_hash: string;
  created_at: Generated<Date>;
  last_seen_at: Generated<Date>;
  expires_at: ColumnType<Date, Date | string, Date | string>;
}

export interface AppSecretsTable {
  name: string;
  value: string;
  created_at: Generated<Date>;
}

export interface ProjectsTable {
  id: Generated<string>;
  user_id: string;
  name: string;
  is_default: Generated<boolean>;
  created_at: Generated<Date>;
}

export interface UploadSessionsTable {
  id: Generated<string>;
  user_id: string;
  project_id: string;
  file_count: number;
  total_bytes: BigIntCol;
  uploaded_count: Generated<number>;
  failed_count: Generated<number>;
  uploaded_bytes: DefaultedBigIntCol;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  completed_at: NullableTimestamp;
}

export interface VideosTable {
  id: Generated<string>;
  user_id: string;
  project_id: string;
  session_id: string | null;
  name: string;
  status: Generated<VideoStatus>;
  declared_size: BigIntCol;
  received_bytes: DefaultedBigIntCol;
  declared_type: string | null;
  mime_type: string | null;
  upload_id: string | null;
  storage_key: string | null;
  upload_progress: Generated<number>;
  upload_started_at: NullableTimestamp;
  upload_completed_at: NullableTimestamp;
  /** tus HEADs while uploading: the client came back after an interruption. */
  upload_resumes: Generated<number>;
  retry_count: Generated<number>;
  error_code: string | null;
  error_message: string | null;
  checksum_sha256: string | null;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** Hex SHA-256 of the file's first and last MiB, as the client sent it (013); duplicates.ts. */
  fingerprint: Generated<string | null>;
}

export interface VideoAnalysisTable {
  id: Generated<string>;
  video_id: string;
  processing_step: string | null;
  step_progress: Generated<number>;
  overall_progress: Generated<number>;
  last_progress_update: NullableTimestamp;
  checkpoint: Json<Record<string, unknown>>;
  attempts: Generated<number>;
  retry_after: NullableTimestamp;
  error_code: string | null;
  error_message: string | null;
  metadata: Json<Record<string, unknown> | null>;
  results: Json<Record<string, unknown>>;
  outputs: Json<Record<string, unknown>>;
  started_at: NullableTimestamp;
  completed_at: NullableTimestamp;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  /** ffmpeg/ffprobe crashes on this input, across attempts (005). */
  tool_crashes: Generated<number>;
  /** Bytes of each stored output, by storage key (005). */
  output_sizes: Json<Record<string, number>>;
  /** Enrichment after `ready` (012): its state, step, progress 0–100 and why it failed. */
  enrichment_status: ColumnType<EnrichmentStatus, EnrichmentStatus | undefined, EnrichmentStatus>;
  enrichment_step: string | null;
  enrichment_progress: Generated<number>;
  enrichment_error_code: string | null;
  enrichment_error_message: string | null;
  /** Seconds left of the running ffmpeg step, from its speed (012). */
  eta_seconds: number | null;
}

export type EnrichmentStatus = 'pending' | 'running' | 'ready' | 'failed';

export interface CreditAccountsTable {
  user_id: string;
  balance: number;
  reserved: Generated<number>;
  updated_at: Generated<Date>;
}

export type ReservationState = 'reserved' | 'captured' | 'released';

export interface CreditReservationsTable {
  id: Generated<string>;
  user_id: string;
  video_id: string | null;
  amount: number;
  state: Generated<ReservationState>;
  created_at: Generated<Date>;
  settled_at: NullableTimestamp;
}

export interface CreditEntriesTable {
  id: Generated<string>;
  user_id: string;
  reservation_id: string | null;
  kind: 'grant' | 'reserve' | 'capture' | 'release';
  amount: number;
  idempotency_key: string;
  created_at: Generated<Date>;
}

export interface CleanupJobsTable {
  id: Generated<string>;
  kind: 'delete_object' | 'delete_prefix' | 'delete_upload';
  target: string;
  reason: string;
  attempts: Generated<number>;
  last_error: string | null;
  done_at: NullableTimestamp;
  created_at: Generated<Date>;
}

export interface UploadMetricsTable {
  id: Generated<string>;
  video_id: string | null;
  user_id: string;
  size_bytes: BigIntCol;
  duration_ms: number;
  bytes_per_second: number;
  resumes: Generated<number>;
  error_type: string | null;
  created_at: Generated<Date>;
}

export interface TimelineItemsTable {
  id: Generated<string>;
  project_id: string;
  user_id: string;
  video_id: string;
  position: number;
  in_seconds: Generated<number>;
  out_seconds: number | null;
  created_at: Generated<Date>;
}

/** A retry or re-analysis a user asked for (005): the unit of the per-video and per-day limits. */
export interface ProcessingRequestsTable {
  id: Generated<string>;
  user_id: string;
  video_id: string | null;
  kind: 'retry' | 'reprocess';
  created_at: Generated<Date>;
}

/** One run of the cleanup sweep (008). */
export interface CleanupRunsTable {
  id: Generated<string>;
  trigger: 'scheduled' | 'manual' | 'cli';
  dry_run: boolean;
  started_at: Generated<Date>;
  finished_at: NullableTimestamp;
  examined: Generated<number>;
  repaired: Generated<number>;
  errors: Generated<number>;
  details: Json<unknown[]>;
  requested_by: string | null;
}

/** One episode of an alert rule firing for a subject (010, src/alerts/). */
export interface AlertsTable {
  id: Generated<string>;
  rule: 'failure_rate' | 'queue_age' | 'video_stuck' | 'quota' | 'disk_low';
  subject: Generated<string>;
  state: Generated<'firing' | 'resolved'>;
  summary: string;
  details: Json<Record<string, unknown>>;
  first_fired_at: Generated<Date>;
  last_seen_at: Generated<Date>;
  resolved_at: NullableTimestamp;
  notified_firing_at: NullableTimestamp;
  notified_resolved_at: NullableTimestamp;
  last_notify_error: string | null;
}

export interface Database {
  users: UsersTable;
  api_tokens: ApiTokensTable;
  auth_sessions: AuthSessionsTable;
  app_secrets: AppSecretsTable;
  projects: ProjectsTable;
  upload_sessions: UploadSessionsTable;
  videos: VideosTable;
  video_analysis: VideoAnalysisTable;
  credit_accounts: CreditAccountsTable;
  credit_reservations: CreditReservationsTable;
  credit_entries: CreditEntriesTable;
  cleanup_jobs: CleanupJobsTable;
  upload_metrics: UploadMetricsTable;
  timeline_items: TimelineItemsTable;
  processing_requests: ProcessingRequestsTable;
  webhooks: WebhooksTable;
  webhook_deliveries: WebhookDeliveriesTable;
  cleanup_runs: CleanupRunsTable;
  alerts: AlertsTable;
}

export type VideoRow = Selectable<VideosTable>;
export type NewVideo = Insertable<VideosTable>;
export type VideoUpdate = Updateable<VideosTable>;
export type AnalysisRow = Selectable<VideoAnalysisTable>;

/** Outgoing webhooks (migration 009, src/webhooks/). */
export interface WebhooksTable {
  id: Generated<string>;
  user_id: string;
  project_id: string | null;
  url: string;
  events: string[];
  /** `whsec_…`, as issued: deliveries sign with it. */
  secret: string;
  created_at: Generated<Date>;
}

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  webhook_id: string;
  event_type: string;
  video_id: string;
  payload: Json<Record<string, unknown>>;
  status: ColumnType<'pending' | 'delivered' | 'failed', 'pending' | 'delivered' | 'failed' | undefined>;
  attempts: Generated<number>;
  last_status_code: number | null;
  last_error: string | null;
  created_at: Generated<Date>;
  last_attempt_at: NullableTimestamp;
  next_attempt_at: NullableTimestamp;
  delivered_at: NullableTimestamp;
}
