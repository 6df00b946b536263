import { sql } from 'kysely';
import type { DbOrTx } from '../db/database.ts';

/** Every job Clipdock runs, and its payload. The worker's task list is keyed by these names. */
export interface JobPayloads {
  process_video: { videoId: string; reprocess?: boolean };
  cleanup_storage: Record<string, never>;
  expire_uploads: Record<string, never>;
  recover_processing: Record<string, never>;
  deliver_webhook: { deliveryId: string };
  requeue_webhooks: Record<string, never>;
  cleanup_sweep: Record<string, never>;
  evaluate_alerts: Record<string, never>;
  send_alert: { alertId: string; event: 'firing' | 'resolved' };
}
export type JobName = keyof JobPayloads;

export interface EnqueueOptions {
  /** At most one pending job per key: a repeated enqueue updates it instead of adding another. */
  jobKey?: string;
  maxAttempts?: number;
  runAt?: Date;
  priority?: number;
}

/**
 * Adds a job through graphile-worker's SQL API, inside the caller's transaction: the job exists
 * if and only if the change that asked for it committed.
 */
export async function enqueue<N extends JobName>(
  db: DbOrTx,
  name: N,
  payload: JobPayloads[N],
  opts: EnqueueOptions = {},
): Promise<void> {
  await sql`
    SELECT graphile_worker.add_job(
      ${name},
      ${JSON.stringify(payload)}::json,
      run_at := ${opts.runAt ?? null}::timestamptz,
      job_key := ${opts.jobKey ?? null},
      max_attempts := ${opts.maxAttempts ?? 25},
      priority := ${opts.priority ?? 0},
      job_key_mode := 'preserve_run_at'
    )`.execute(db);
}

export const processJobKey = (videoId: string) => `process_video:${videoId}`;
