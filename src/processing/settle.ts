import { sql } from 'kysely';
import { scheduleCleanup } from '../cleanup/cleanup.ts';
import type { AppContext } from '../context.ts';
import { captureReservation, releaseReservation } from '../credits/ledger.ts';
import type { Tx } from '../db/database.ts';
import { enqueue, processJobKey } from '../jobs/queue.ts';
import { countProcessingFailure } from '../metrics/metrics.ts';
import { keys } from '../storage/object-store.ts';
import type { PublicError } from './failure-policy.ts';
import { type Phase, publish, type VideoRef } from './progress.ts';
import { type Checkpoint, outputKeys, type StoredOutputs } from './types.ts';

/**
 * How a run ends: ready, failed, or waiting for its next attempt. Each is one transaction that
 * moves the video, settles (or keeps) its credits and publishes the change.
 */

/** Exponential backoff with full jitter in its upper half: 2^n s (max 10 min) × 0.5..1. */
export function retryDelayMs(attempt: number): number {
  const base = Math.min(600_000, 1000 * 2 ** attempt);
  return Math.round(base * (0.5 + Math.random() * 0.5));
}

/** How the failed run went; `phase: 'enrich'` when the video was already ready. */
export interface RunSummary {
  attempts: number;
  crashes: number;
  reprocess: boolean;
  phase?: Phase;
}

/**
 * Playable: the MP4 and the poster are stored. The video becomes `ready` and its reservation is
 * captured; enrichment starts (`running`) with a fresh attempt count. False when the video was
 * canceled or deleted meanwhile (its own path settled the credits).
 */
export async function finishReady(ctx: AppContext, ref: VideoRef): Promise<boolean> {
  return ctx.db.transaction().execute(async (tx) => {
    const moved = await tx
      .updateTable('videos')
      .set({ status: 'ready', error_code: null, error_message: null, updated_at: sql`now()` })
      .where('id', '=', ref.videoId)
      .where('status', '=', 'processing')
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 0) return false;
    await captureReservation(tx, ref.videoId);
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
      .where('video_id', '=', ref.videoId)
      .execute();
    await publish(tx, ref);
    return true;
  });
}

/** Enrichment is done: announced as `video.analysis.ready`. The video stays ready, its charge as it was. */
export async function finishEnrichment(ctx: AppContext, ref: VideoRef): Promise<void> {
  await ctx.db.transaction().execute(async (tx) => {
    const moved = await tx
      .updateTable('video_analysis')
      .set({
        enrichment_status: 'ready',
        enrichment_step: null,
        enrichment_progress: 100,
        enrichment_error_code: null,
        enrichment_error_message: null,
        step_progress: 100,
        error_code: null,
        error_message: null,
        retry_after: null,
        checkpoint: sql`checkpoint - 'reprocess'`,
        completed_at: sql`now()`,
        updated_at: sql`now()`,
      })
      .where('video_id', '=', ref.videoId)
      .where('enrichment_status', 'in', ['pending', 'running'])
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 0) return;
    await publish(tx, ref, 'analysis.ready');
  });
}

/** Enrichment failed for good: the video stays ready and charged once; reprocess runs it again. */
async function failEnrichment(ctx: AppContext, ref: VideoRef, e: PublicError, run: RunSummary) {
  await ctx.db.transaction().execute(async (tx) => {
    await tx
      .updateTable('video_analysis')
      .set({
        enrichment_status: 'failed',
        enrichment_step: null,
        enrichment_error_code: e.code,
        enrichment_error_message: e.message,
        attempts: run.attempts,
        tool_crashes: run.crashes,
        retry_after: null,
        error_code: null,
        error_message: null,
        checkpoint: sql`checkpoint - 'reprocess'`,
        completed_at: sql`now()`,
        last_progress_update: sql`now()`,
        updated_at: sql`now()`,
      })
      .where('video_id', '=', ref.videoId)
      .execute();
    await publish(tx, ref, 'progress');
  });
}

export async function finishFailed(
  ctx: AppContext,
  ref: VideoRef,
  e: PublicError,
  run: RunSummary,
): Promise<void> {
  if (run.phase === 'enrich') return failEnrichment(ctx, ref, e, run);
  const { attempts, crashes } = run;
  // What is stored under the video besides its original, including what a step that failed
  // half-way wrote before it could be recorded (no run writes meanwhile: we hold its lock).
  const stored = (await ctx.store.list(keys.videoPrefix(ref.videoId)).catch(() => []))
    .map((o) => o.key)
    .filter((k) => k !== keys.original(ref.videoId));
  await ctx.db.transaction().execute(async (tx: Tx) => {
    await tx
      .updateTable('video_analysis')
      .set({
        error_code: e.code,
        error_message: e.message,
        attempts,
        tool_crashes: crashes,
        retry_after: null,
        processing_step: null,
        eta_seconds: null,
        last_progress_update: sql`now()`,
        updated_at: sql`now()`,
      })
      .where('video_id', '=', ref.videoId)
      .execute();
    const moved = await tx
      .updateTable('videos')
      .set({ status: 'failed', error_code: e.code, error_message: e.message, updated_at: sql`now()` })
      .where('id', '=', ref.videoId)
      .where('status', 'in', ['uploaded', 'processing'])
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 0) return;
    countProcessingFailure(e.code);
    await releaseReservation(tx, ref.videoId);
    await dropOutputs(tx, ref.videoId, stored);
    await publish(tx, ref);
  });
}

/**
 * A failed video keeps its original only: what its finished steps wrote is deleted (durably, by
 * the cleanup job), and those steps are no longer done, so a Retry writes them again. The probe
 * wrote no file; its result stays.
 */
async function dropOutputs(tx: Tx, videoId: string, stored: string[]): Promise<void> {
  const a = await tx
    .selectFrom('video_analysis')
    .select(['outputs', 'checkpoint'])
    .where('video_id', '=', videoId)
    .forUpdate()
    .executeTakeFirst();
  if (!a) return;
  const o = (a.outputs ?? {}) as StoredOutputs;
  const written = new Set([...outputKeys(o), ...stored]);
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

export async function scheduleRetry(
  ctx: AppContext,
  ref: VideoRef,
  note: string,
  run: RunSummary,
): Promise<void> {
  const { attempts, crashes, reprocess } = run;
  const runAt = new Date(Date.now() + retryDelayMs(attempts));
  await ctx.db.transaction().execute(async (tx) => {
    if (run.phase !== 'enrich') {
      await tx
        .updateTable('videos')
        .set({ retry_count: attempts, updated_at: sql`now()` })
        .where('id', '=', ref.videoId)
        .execute();
    }
    await tx
      .updateTable('video_analysis')
      .set({
        attempts,
        tool_crashes: crashes,
        retry_after: runAt,
        error_code: 'RETRYING',
        error_message: note,
        updated_at: sql`now()`,
      })
      .where('video_id', '=', ref.videoId)
      .execute();
    // The running job's key is cleared by graphile-worker, so this adds the next attempt.
    await enqueue(
      tx,
      'process_video',
      { videoId: ref.videoId, ...(reprocess ? { reprocess } : {}) },
      {
        jobKey: processJobKey(ref.videoId),
        runAt,
        maxAttempts: 3,
      },
    );
    await publish(tx, ref, 'progress');
  });
}
