import type { AppContext } from '../context.ts';
import { AppError } from '../errors.ts';
import { enqueue, processJobKey } from '../jobs/queue.ts';
import { toEnrichmentPending } from '../videos/analysis-status.ts';
import { toRetried } from '../videos/status.ts';
import { assertRetryable } from './failure-policy.ts';
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
    const from = v.status as 'failed' | 'canceled';
    // Refused as a whole (rolled back) when over the limits, short of credits, or changed meanwhile.
    await recordProcessingRequest(tx, ctx.config.limits, { userId, videoId, kind: 'retry' });
    if (!(await toRetried(tx, { id: videoId, userId, from }, ctx.config.limits.creditsPerVideo))) {
      throw new AppError('VIDEO_NOT_RETRYABLE', 'This video changed meanwhile; reload it.');
    }
    await enqueue(tx, 'process_video', { videoId }, { jobKey: processJobKey(videoId) });
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
    const checkpoint = { done, runs: cp.runs ?? {}, reprocess: true } as Checkpoint;
    if (!(await toEnrichmentPending(tx, videoId, checkpoint))) throw new AppError('ANALYSIS_RUNNING');
    await enqueue(tx, 'process_video', { videoId, reprocess: true }, { jobKey: processJobKey(videoId) });
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
