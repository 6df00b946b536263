import { sql } from 'kysely';
import { scheduleCleanup } from '../cleanup/cleanup.ts';
import { captureReservation, releaseReservation, reserveForRetry } from '../credits/ledger.ts';
import type { DbOrTx, Tx } from '../db/database.ts';
import type { VideoStatus } from '../db/types.ts';
import { ERRORS } from '../errors.ts';
import type { VideoEvent } from '../events/video-event.ts';
import { publishVideoEvent } from '../events/video-events.ts';
import { countProcessingFailure } from '../metrics/metrics.ts';
import { type Checkpoint, outputKeys, type StoredOutputs } from '../processing/types.ts';
import { findVideoState } from './repository.ts';
import { presentVideoState, videoEventOf } from './video-dto.ts';

/**
 * The one owner of a video's status changes, with its two siblings: the upload's own states in
 * upload-status.ts (pending_upload → uploading → uploaded, and failed / canceled / upload_expired
 * for an upload that never finishes), then here uploaded → processing → ready / failed, retry,
 * an original found missing, deleted; the enrichment that follows `ready` is in
 * analysis-status.ts. Nothing else writes `videos.status` (test/videos/status-owner.test.ts
 * checks). Each transition is a conditional update (false: the video was not in a state it may
 * leave that way; someone else moved it) that settles credits, schedules cleanup and publishes
 * the change in the caller's transaction, as one event shape built here (publishVideoState,
 * from video-dto.ts). src/videos never imports src/uploads: uploads calls in.
 */

/**
 * Publishes the video's state as `tx` sees it, presented like every other reader sees it
 * (video-dto.ts: status, step, progress, error, analysis, etaSeconds). Delivered only if `tx`
 * commits. `kind` tells webhooks what the change announces (see VideoEvent).
 */
export async function publishVideoState(
  tx: DbOrTx,
  videoId: string,
  kind?: VideoEvent['kind'],
): Promise<void> {
  const row = await findVideoState(tx, videoId);
  // Deleted meanwhile: its delete published the `deleted` event.
  if (!row) return;
  await publishVideoEvent(tx, videoEventOf(row, presentVideoState(row), kind ? { kind } : {}));
}

const moved = (r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows) > 0;

/** A worker claims the video: uploaded (or a resumed processing) → processing. */
export async function toProcessing(tx: Tx, videoId: string): Promise<boolean> {
  const r = await tx
    .updateTable('videos')
    .set({ status: 'processing', updated_at: sql`now()` })
    .where('id', '=', videoId)
    .where('status', 'in', ['uploaded', 'processing'])
    .executeTakeFirst();
  return moved(r);
}

/**
 * Playable (MP4 + poster stored): processing → ready, its reservation captured; enrichment starts
 * with a fresh attempt count. Announced as `video.ready`.
 */
export async function toReady(tx: Tx, videoId: string): Promise<boolean> {
  const r = await tx
    .updateTable('videos')
    .set({ status: 'ready', error_code: null, error_message: null, updated_at: sql`now()` })
    .where('id', '=', videoId)
    .where('status', '=', 'processing')
    .executeTakeFirst();
  if (!moved(r)) return false;
  await captureReservation(tx, videoId);
  await tx
    .updateTable('video_analysis')
    .set({
      processing_step: null,
      step_progress: 0,
      overall_progress: 100,
      eta_seconds: null,
      error_code: null,
      error_message: null,
      retry_after: null,
      attempts: 0,
      enrichment_status: 'running',
      enrichment_step: null,
      enrichment_progress: 0,
      enrichment_error_code: null,
      enrichment_error_message: null,
      updated_at: sql`now()`,
    })
    .where('video_id', '=', videoId)
    .execute();
  await publishVideoState(tx, videoId);
  return true;
}

/**
 * Processing failed for good: uploaded/processing → failed, its reservation released, and what
 * its steps wrote (recorded outputs and `stored`, keys a half-finished step left) deleted by the
 * cleanup job; those steps are no longer done, so a retry writes them again (the probe's result,
 * which wrote no file, stays). Announced as `video.failed`.
 */
export async function toFailed(
  tx: Tx,
  videoId: string,
  e: { code: string; message: string },
  stored: string[],
): Promise<boolean> {
  const r = await tx
    .updateTable('videos')
    .set({ status: 'failed', error_code: e.code, error_message: e.message, updated_at: sql`now()` })
    .where('id', '=', videoId)
    .where('status', 'in', ['uploaded', 'processing'])
    .executeTakeFirst();
  if (!moved(r)) return false;
  countProcessingFailure(e.code);
  await releaseReservation(tx, videoId);
  const a = await tx
    .selectFrom('video_analysis')
    .select(['outputs', 'checkpoint'])
    .where('video_id', '=', videoId)
    .forUpdate()
    .executeTakeFirst();
  if (a) {
    const written = new Set([...outputKeys((a.outputs ?? {}) as StoredOutputs), ...stored]);
    const cp = (a.checkpoint ?? {}) as Partial<Checkpoint>;
    const done = cp.done?.probe !== undefined ? { probe: cp.done.probe } : {};
    await tx
      .updateTable('video_analysis')
      .set({ outputs: '{}', output_sizes: '{}', checkpoint: JSON.stringify({ ...cp, done }) })
      .where('video_id', '=', videoId)
      .execute();
    await scheduleCleanup(
      tx,
      [...written].map((target) => ({
        kind: 'delete_object' as const,
        target,
        reason: 'outputs of a failed video',
      })),
    );
  }
  await publishVideoState(tx, videoId);
  return true;
}

/** A transient failure: the video keeps its state and waits for its next attempt (`attempts`). */
export async function noteRetryScheduled(tx: Tx, videoId: string, attempts: number, enriching: boolean) {
  if (!enriching) {
    await tx
      .updateTable('videos')
      .set({ retry_count: attempts, updated_at: sql`now()` })
      .where('id', '=', videoId)
      .execute();
  }
  await publishVideoState(tx, videoId, 'progress');
}

/**
 * The user runs a failed video (or one canceled after its upload) again: → uploaded, under a new
 * reservation; finished steps stay done, attempts start over, enrichment is pending again.
 */
export async function toRetried(
  tx: Tx,
  v: { id: string; userId: string; from: VideoStatus },
  credits: number,
): Promise<boolean> {
  const r = await tx
    .updateTable('videos')
    .set({
      status: 'uploaded',
      error_code: null,
      error_message: null,
      retry_count: 0,
      updated_at: sql`now()`,
    })
    .where('id', '=', v.id)
    .where('status', '=', v.from)
    .executeTakeFirst();
  if (!moved(r)) return false;
  await reserveForRetry(tx, v.userId, v.id, credits);
  await tx
    .updateTable('video_analysis')
    .set({
      // Earlier attempts' failures, crashes and stopped workers were before the user asked again.
      attempts: 0,
      tool_crashes: 0,
      checkpoint: sql`checkpoint || '{"runs":{},"ended":{}}'::jsonb`,
      retry_after: null,
      error_code: null,
      error_message: null,
      processing_step: null,
      step_progress: 0,
      eta_seconds: null,
      enrichment_status: 'pending',
      enrichment_step: null,
      enrichment_progress: 0,
      enrichment_error_code: null,
      enrichment_error_message: null,
      completed_at: null,
      updated_at: sql`now()`,
    })
    .where('video_id', '=', v.id)
    .execute();
  await publishVideoState(tx, v.id);
  return true;
}

/** Its original is gone from storage: uploaded/ready → failed (ORIGINAL_MISSING), credits released. */
export async function toOriginalMissing(tx: Tx, videoId: string): Promise<boolean> {
  const r = await tx
    .updateTable('videos')
    .set({
      status: 'failed',
      error_code: 'ORIGINAL_MISSING',
      error_message: ERRORS.ORIGINAL_MISSING[1],
      updated_at: sql`now()`,
    })
    .where('id', '=', videoId)
    .where('status', 'in', ['uploaded', 'ready'])
    .executeTakeFirst();
  if (!moved(r)) return false;
  await releaseReservation(tx, videoId);
  await publishVideoState(tx, videoId);
  return true;
}

/** The event of a deleted video (its row is gone: built from what the caller read before). */
export async function publishDeleted(
  tx: Tx,
  v: { videoId: string; userId: string; projectId: string; sessionId: string | null },
): Promise<void> {
  await publishVideoEvent(tx, {
    ...v,
    status: 'deleted',
    step: null,
    progress: 0,
    error: null,
    updatedAt: new Date().toISOString(),
  });
}
