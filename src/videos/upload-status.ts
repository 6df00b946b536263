import { sql } from 'kysely';
import { scheduleCleanup } from '../cleanup/cleanup.ts';
import type { Config } from '../config.ts';
import { releaseReservation } from '../credits/ledger.ts';
import type { Tx } from '../db/database.ts';
import type { VideoRow, VideoStatus } from '../db/types.ts';
import { countUploadOutcome } from '../metrics/metrics.ts';
import { keys } from '../storage/object-store.ts';
import { publishVideoState } from './status.ts';

/**
 * The upload's own transitions, owned with the rest of the video's in status.ts:
 * pending_upload → uploading (tus creation), uploading → uploaded (finish), and the ends of an
 * upload that never finishes (→ failed / canceled / upload_expired). Each is a conditional update
 * in the caller's transaction that settles credits, schedules cleanup, counts the session and
 * publishes the video's state through publishVideoState (one event shape). src/uploads calls
 * these; progress ticks, the resume counter, mime_type and the move of the bytes stay there.
 */

/** Statuses in which bytes may still arrive. */
export const UNFINISHED: VideoStatus[] = ['pending_upload', 'uploading'];

/**
 * What cleanup must delete for an unfinished upload: on disk the tus file named by the upload id
 * (cleanup adds the .json sidecar); on S3 the video's original key, whose multipart upload and
 * tail object (s3-upload-state.ts) cleanup aborts and deletes.
 */
export function uploadCleanupTarget(config: Config, videoId: string): string {
  return config.storage.driver === 'fs' ? videoId : keys.original(videoId);
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
 * The tus upload is created: pending_upload (or an `uploading` whose creation left nothing
 * stored) → uploading, progress from zero. False when the video awaits no upload.
 */
export async function toUploading(tx: Tx, videoId: string): Promise<boolean> {
  const r = await tx
    .updateTable('videos')
    .set({
      status: 'uploading',
      upload_id: videoId,
      upload_started_at: sql`now()`,
      received_bytes: 0,
      upload_progress: 0,
      updated_at: sql`now()`,
    })
    .where('id', '=', videoId)
    .where('status', 'in', UNFINISHED)
    .executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) return false;
  await publishVideoState(tx, videoId);
  return true;
}

/**
 * Every byte is stored under the original's key: uploading → uploaded, with the detected type;
 * the session counts it. Its reservation stays until processing settles it. Returns the row, or
 * undefined when the video was not uploading (a repeated finish).
 */
export async function toUploaded(
  tx: Tx,
  videoId: string,
  stored: { size: number; mime: string },
): Promise<VideoRow | undefined> {
  const row = await tx
    .updateTable('videos')
    .set({
      status: 'uploaded',
      storage_key: keys.original(videoId),
      received_bytes: stored.size,
      upload_progress: 100,
      upload_completed_at: sql`now()`,
      mime_type: stored.mime,
      updated_at: sql`now()`,
    })
    .where('id', '=', videoId)
    .where('status', '=', 'uploading')
    .returningAll()
    .executeTakeFirst();
  if (!row) return undefined;
  await countInSession(tx, row.session_id, { uploaded: 1, bytes: stored.size });
  await publishVideoState(tx, videoId);
  return row;
}

/**
 * Ends an upload that will never finish: `failed`, `canceled` or `upload_expired`. Conditional on
 * the video still being unfinished, so it happens at most once (returns undefined otherwise).
 * In the caller's transaction: credits released, partial bytes scheduled for deletion, session
 * counted, event published.
 */
export async function toUploadEnded(
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
  await publishVideoState(tx, videoId);
  return row;
}
