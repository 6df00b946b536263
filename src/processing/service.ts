import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { reserveForRetry } from '../credits/ledger.ts';
import { AppError } from '../errors.ts';
import { enqueue, processJobKey } from '../jobs/queue.ts';
import { assertRetryable } from './failure-policy.ts';
import { publish } from './progress.ts';
import { recordProcessingRequest } from './request-limits.ts';
import { type Checkpoint, OUTPUT_NAMES, outputKeys, type StepName, type StoredOutputs } from './types.ts';

/**
 * What a user can ask of the pipeline: run a failed video again, re-analyse a ready one, fetch
 * an output. Routes call these; every query is scoped to the owner (another user's video is a 404).
 */

async function ownedVideo(ctx: AppContext, userId: string, videoId: string) {
  const v = await ctx.db
    .selectFrom('videos')
    .select(['id', 'user_id', 'project_id', 'session_id', 'status', 'storage_key', 'error_code'])
    .where('id', '=', videoId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  if (!v) throw new AppError('VIDEO_NOT_FOUND');
  return v;
}

/**
 * A failed video, or one canceled after its upload finished, runs again from its kept original,
 * under a new credit reservation. Checkpointed steps whose outputs are still good are kept, so
 * a video that failed late does not convert again. A video refused for what its file is
 * (FAILURE_IS_PERMANENT) is not run again; retries are limited (request-limits.ts).
 */
export async function retryVideo(
  ctx: AppContext,
  userId: string,
  videoId: string,
): Promise<{ status: 'uploaded' }> {
  const v = await ownedVideo(ctx, userId, videoId);
  const retryable = v.status === 'failed' || (v.status === 'canceled' && v.storage_key !== null);
  if (!retryable || !v.storage_key) {
    throw new AppError(
      'VIDEO_NOT_RETRYABLE',
      `This video is ${v.status}; only a failed video (or one canceled after its upload) can be retried.`,
    );
  }
  if (v.status === 'failed') assertRetryable(v.error_code);
  if (!(await ctx.store.head(v.storage_key))) {
    throw new AppError(
      'VIDEO_NOT_RETRYABLE',
      'The original file of this video is no longer stored. Upload it again.',
    );
  }
  await ctx.db.transaction().execute(async (tx) => {
    const moved = await tx
      .updateTable('videos')
      .set({
        status: 'uploaded',
        error_code: null,
        error_message: null,
        retry_count: 0,
        updated_at: sql`now()`,
      })
      .where('id', '=', videoId)
      .where('status', '=', v.status)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 0)
      throw new AppError('VIDEO_NOT_RETRYABLE', 'This video changed meanwhile; reload it.');
    await recordProcessingRequest(tx, ctx.config.limits, { userId, videoId, kind: 'retry' });
    await reserveForRetry(tx, userId, videoId, ctx.config.limits.creditsPerVideo);
    await tx
      .updateTable('video_analysis')
      .set({
        // A fresh attempt count: earlier attempts' failures, crashes and stopped workers were
        // before the user asked again. Finished steps stay done (`checkpoint.done`).
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
      .where('video_id', '=', videoId)
      .execute();
    await enqueue(tx, 'process_video', { videoId }, { jobKey: processJobKey(videoId) });
    await publish(tx, { videoId, userId, projectId: v.project_id, sessionId: v.session_id });
  });
  return { status: 'uploaded' };
}

export const REPROCESSABLE_STEPS = ['thumbnails', 'analyze', 'transcribe'] as const;
export type ReprocessStep = (typeof REPROCESSABLE_STEPS)[number];

/**
 * Re-runs the enrichment of a ready video (by default analyze and transcribe, e.g. after turning
 * transcription on; `thumbnails` names the storyboard, which analyze's pass draws). The video
 * stays `ready` and playable throughout, free of charge (it was paid for once); its
 * `analysis.status` goes back to pending, and a failure leaves it ready with the error on its
 * analysis.
 */
export async function reprocessVideo(
  ctx: AppContext,
  userId: string,
  videoId: string,
  steps: ReprocessStep[] = ['analyze', 'transcribe'],
): Promise<{ status: 'ready'; steps: ReprocessStep[] }> {
  const v = await ownedVideo(ctx, userId, videoId);
  if (v.status !== 'ready') {
    throw new AppError(
      'VIDEO_NOT_READY',
      `This video is ${v.status}; only a ready video can be re-analysed.`,
    );
  }
  await ctx.db.transaction().execute(async (tx) => {
    const a = await tx
      .selectFrom('video_analysis')
      .select(['checkpoint', 'enrichment_status'])
      .where('video_id', '=', videoId)
      .forUpdate()
      .executeTakeFirst();
    if (a && (a.enrichment_status === 'pending' || a.enrichment_status === 'running')) {
      throw new AppError('ANALYSIS_RUNNING');
    }
    const cp = (a?.checkpoint ?? {}) as Partial<Checkpoint>;
    const done = { ...(cp.done ?? {}) } as Record<string, unknown>;
    for (const s of steps) delete done[s === 'thumbnails' ? 'analyze' : (s as StepName)];
    await recordProcessingRequest(tx, ctx.config.limits, { userId, videoId, kind: 'reprocess' });
    await tx
      .updateTable('video_analysis')
      .set({
        checkpoint: JSON.stringify({ done, runs: cp.runs ?? {}, reprocess: true }),
        attempts: 0,
        retry_after: null,
        error_code: null,
        error_message: null,
        enrichment_status: 'pending',
        enrichment_step: null,
        enrichment_progress: 0,
        enrichment_error_code: null,
        enrichment_error_message: null,
        completed_at: null,
        updated_at: sql`now()`,
      })
      .where('video_id', '=', videoId)
      .execute();
    await enqueue(tx, 'process_video', { videoId, reprocess: true }, { jobKey: processJobKey(videoId) });
    await publish(tx, { videoId, userId, projectId: v.project_id, sessionId: v.session_id }, 'progress');
  });
  return { status: 'ready', steps };
}

/** The storage key of an output the owner may fetch, or NOT_FOUND. */
export async function outputKey(
  ctx: AppContext,
  userId: string,
  videoId: string,
  name: string,
): Promise<string> {
  await ownedVideo(ctx, userId, videoId);
  if (!OUTPUT_NAMES.test(name)) throw new AppError('NOT_FOUND', `There is no output called "${name}".`);
  const a = await ctx.db
    .selectFrom('video_analysis')
    .select('outputs')
    .where('video_id', '=', videoId)
    .executeTakeFirst();
  const o = (a?.outputs ?? {}) as StoredOutputs;
  const key = outputKeys(o).find((k) => k.endsWith(`/${name}`));
  if (!key) throw new AppError('NOT_FOUND', `The ${name} of this video does not exist (yet).`);
  return key;
}
