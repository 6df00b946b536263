import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { enqueue, processJobKey } from '../jobs/queue.ts';
import { keys } from '../storage/object-store.ts';
import { toEnrichmentFailed, toEnrichmentReady } from '../videos/analysis-status.ts';
import { noteRetryScheduled, toFailed, toReady } from '../videos/status.ts';
import type { PublicError } from './failure-policy.ts';
import type { Phase, VideoRef } from './progress.ts';

/**
 * How a run ends: ready, failed, or waiting for its next attempt; and how its enrichment ends.
 * Each is one transaction around a transition of src/videos/status.ts (which moves the video,
 * settles or keeps its credits and publishes the change).
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
 * Playable: the MP4 and the poster are stored. False when the video was canceled or deleted
 * meanwhile (its own path settled the credits).
 */
export async function finishReady(ctx: AppContext, ref: VideoRef): Promise<boolean> {
  return ctx.db.transaction().execute((tx) => toReady(tx, ref.videoId));
}

/** Enrichment is done. The video stays ready, its charge as it was. */
export async function finishEnrichment(ctx: AppContext, ref: VideoRef): Promise<void> {
  await ctx.db.transaction().execute((tx) => toEnrichmentReady(tx, ref.videoId));
}

export async function finishFailed(
  ctx: AppContext,
  ref: VideoRef,
  e: PublicError,
  run: RunSummary,
): Promise<void> {
  if (run.phase === 'enrich') {
    await ctx.db.transaction().execute((tx) => toEnrichmentFailed(tx, ref.videoId, e, run));
    return;
  }
  // What is stored under the video besides its original, including what a step that failed
  // half-way wrote before it could be recorded (no run writes meanwhile: we hold its lock).
  const stored = (await ctx.store.list(keys.videoPrefix(ref.videoId)).catch(() => []))
    .map((o) => o.key)
    .filter((k) => k !== keys.original(ref.videoId));
  await ctx.db.transaction().execute(async (tx) => {
    await tx
      .updateTable('video_analysis')
      .set({
        error_code: e.code,
        error_message: e.message,
        attempts: run.attempts,
        tool_crashes: run.crashes,
        retry_after: null,
        processing_step: null,
        eta_seconds: null,
        last_progress_update: sql`now()`,
        updated_at: sql`now()`,
      })
      .where('video_id', '=', ref.videoId)
      .execute();
    await toFailed(tx, ref.videoId, e, stored);
  });
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
      { jobKey: processJobKey(ref.videoId), runAt, maxAttempts: 3 },
    );
    await noteRetryScheduled(tx, ref.videoId, attempts, run.phase === 'enrich');
  });
}
