import { sql } from 'kysely';
import { scheduleCleanup } from '../cleanup/cleanup.ts';
import type { Config } from '../config.ts';
import { releaseReservation } from '../credits/ledger.ts';
import type { DbOrTx, Tx } from '../db/database.ts';
import type { VideoRow, VideoStatus } from '../db/types.ts';
import { publishVideoEvent } from '../events/video-events.ts';
import { countUploadOutcome } from '../metrics/metrics.ts';
import { videoError } from '../processing/failure-policy.ts';
import { keys } from '../storage/object-store.ts';

/**
 * The state changes of an upload that more than one path needs: events, session counters and
 * the ends of an upload that never finished (failed sniff, termination, expiry).
 */

/** Statuses in which bytes may still arrive. */
export const UNFINISHED: VideoStatus[] = ['pending_upload', 'uploading'];

type EventRow = Pick<
  VideoRow,
  | 'id'
  | 'user_id'
  | 'project_id'
  | 'session_id'
  | 'status'
  | 'error_code'
  | 'error_message'
  | 'upload_progress'
> & { updated_at: Date };

export async function publishUploadEvent(db: DbOrTx, v: EventRow): Promise<void> {
  await publishVideoEvent(db, {
    videoId: v.id,
    userId: v.user_id,
    projectId: v.project_id,
    sessionId: v.session_id,
    status: v.status,
    step: null,
    progress: Math.round(v.upload_progress),
    error: videoError(v.status, v.error_code, v.error_message),
    updatedAt: v.updated_at.toISOString(),
  });
}

/**
 * Counts one video of a session as uploaded or as given up, and marks the session complete once
 * none of its videos can still receive bytes. The session row is locked first, in its own
 * statement, so that two videos ending at once cannot both miss the "last one" moment.
 */
export async function countInSession(
  tx: Tx,
  sessionId: string | null,
  change: { uploaded?: number; failed?: number; bytes?: number },
): Promise<void> {
  if (!sessionId) return;
  await tx.selectFrom('upload_sessions').select('id').where('id', '=', sessionId).forUpdate().execute();
  await tx
    .updateTable('upload_sessions')
    .set((eb) => ({
      uploaded_count: eb('uploaded_count', '+', change.uploaded ?? 0),
      failed_count: eb('failed_count', '+', change.failed ?? 0),
      uploaded_bytes: sql`uploaded_bytes + ${change.bytes ?? 0}`,
      updated_at: sql`now()`,
      completed_at: sql`CASE WHEN completed_at IS NULL AND NOT EXISTS (
        SELECT 1 FROM videos WHERE session_id = ${sessionId} AND status IN ('pending_upload', 'uploading')
      ) THEN now() ELSE completed_at END`,
    }))
    .where('id', '=', sessionId)
    .execute();
}

/**
 * What cleanup must delete for an unfinished upload: on disk the tus file named by the upload id
 * (cleanup adds the .json sidecar); on S3 the video's original key, whose multipart upload and
 * tail object (s3-upload-state.ts) cleanup aborts and deletes.
 */
export function uploadCleanupTarget(config: Config, videoId: string): string {
  return config.storage.driver === 'fs' ? videoId : keys.original(videoId);
}

/**
 * Ends an upload that will never finish: `failed`, `canceled` or `upload_expired`. Conditional on
 * the video still being unfinished, so it happens at most once (returns undefined otherwise).
 * In the caller's transaction: credits released, partial bytes scheduled for deletion, session
 * counted, event published.
 */
export async function endUnfinishedUpload(
  tx: Tx,
  config: Config,
  videoId: string,
  end: {
    status: 'failed' | 'canceled' | 'upload_expired';
    errorCode?: string;
    errorMessage?: string;
    reason: string;
  },
): Promise<VideoRow | undefined> {
  const row = await tx
    .updateTable('videos')
    .set({
      status: end.status,
      error_code: end.errorCode ?? null,
      error_message: end.errorMessage ?? null,
      updated_at: sql`now()`,
    })
    .where('id', '=', videoId)
    .where('status', 'in', UNFINISHED)
    .returningAll()
    .executeTakeFirst();
  if (!row) return undefined;
  countUploadOutcome(end.status);
  await releaseReservation(tx, videoId);
  await scheduleCleanup(tx, [
    { kind: 'delete_upload', target: uploadCleanupTarget(config, videoId), reason: end.reason },
  ]);
  await countInSession(tx, row.session_id, { failed: 1 });
  await publishUploadEvent(tx, row);
  return row;
}
