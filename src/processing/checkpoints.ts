import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { outputSizes } from './output-sizes.ts';
import { type Phase, publish, type VideoRef } from './progress.ts';
import type { Checkpoint, StepName, StepOutputs, StoredOutputs, StoredResults } from './types.ts';

/**
 * What the runner writes around each step: the start (counted before it runs), the result (with
 * what it means for `results`, `outputs` and `metadata`), a start that ended with an error. The
 * phase says whose step and progress the row shows: the video's (towards `ready`) or enrichment's.
 */

/** Counts a start of `step` that ended here with an error (not a worker that stopped). */
export async function recordEndedRun(ctx: AppContext, videoId: string, step: StepName): Promise<void> {
  await sql`
    UPDATE video_analysis
    SET checkpoint = checkpoint || jsonb_build_object('ended',
      coalesce(checkpoint->'ended', '{}'::jsonb)
        || jsonb_build_object(${step}::text, coalesce((checkpoint->'ended'->>${step}::text)::int, 0) + 1))
    WHERE video_id = ${videoId}`.execute(ctx.db);
}

/** Whether the run may go on: towards `ready` the video is processing; enrichment needs it ready. */
export async function stillRunnable(ctx: AppContext, videoId: string, phase: Phase): Promise<boolean> {
  const v = await ctx.db.selectFrom('videos').select('status').where('id', '=', videoId).executeTakeFirst();
  return v?.status === (phase === 'enrich' ? 'ready' : 'processing');
}

const stepColumns = (phase: Phase, step: string, overall: number) =>
  phase === 'enrich'
    ? { enrichment_step: step, enrichment_progress: overall }
    : { processing_step: step, overall_progress: overall };

export async function saveCheckpoint(
  ctx: AppContext,
  ref: VideoRef,
  cp: Checkpoint,
  step: StepName,
  overall: number,
  phase: Phase,
) {
  await ctx.db.transaction().execute(async (tx) => {
    await tx
      .updateTable('video_analysis')
      .set({
        checkpoint: JSON.stringify(cp),
        ...stepColumns(phase, step, overall),
        step_progress: 0,
        eta_seconds: null,
        last_progress_update: sql`now()`,
        updated_at: sql`now()`,
      })
      .where('video_id', '=', ref.videoId)
      .execute();
    await publish(tx, ref, 'progress');
  });
}

/** Commits a step's output with what it means for `results`, `outputs` and `metadata`. */
export async function saveStepResult<N extends StepName>(
  ctx: AppContext,
  ref: VideoRef,
  cp: Checkpoint,
  name: N,
  output: StepOutputs[N],
  overall: number,
  phase: Phase,
) {
  const results: StoredResults = {};
  const outputs: StoredOutputs = {};
  if (name === 'normalize') {
    const o = output as StepOutputs['normalize'];
    results.normalize = { mode: o.mode };
    outputs.video = o.key;
  } else if (name === 'poster') {
    const o = output as StepOutputs['poster'];
    results.posterAt = o.posterAt;
    Object.assign(outputs, { poster: o.posterKey, thumbnails: o.thumbnailKeys });
  } else if (name === 'analyze') {
    const o = output as StepOutputs['analyze'];
    Object.assign(results, {
      scenes: o.scenes,
      silences: o.silences,
      loudness: o.loudness,
      waveformPeaks: o.waveformPeaks,
      storyboard: o.storyboard,
    });
    Object.assign(outputs, { storyboard: o.storyboardKey, storyboardIndex: o.storyboardIndexKey });
    if (o.waveformKey) outputs.waveform = o.waveformKey;
  } else if (name === 'transcribe') {
    const o = output as StepOutputs['transcribe'];
    results.transcript = o;
    if (o.status === 'completed') outputs.transcript = o.key;
  }
  const sizes = await outputSizes(ctx.store, outputs);
  await ctx.db.transaction().execute(async (tx) => {
    await tx
      .updateTable('video_analysis')
      .set((eb) => ({
        checkpoint: JSON.stringify(cp),
        ...(name === 'probe' ? { metadata: JSON.stringify(output) } : {}),
        results: sql`${eb.ref('results')} || ${JSON.stringify(results)}::jsonb`,
        outputs: sql`${eb.ref('outputs')} || ${JSON.stringify(outputs)}::jsonb`,
        output_sizes: sql`${eb.ref('output_sizes')} || ${JSON.stringify(sizes)}::jsonb`,
        ...stepColumns(phase, name, overall),
        step_progress: 100,
        eta_seconds: null,
        last_progress_update: sql`now()`,
        updated_at: sql`now()`,
      }))
      .where('video_id', '=', ref.videoId)
      .execute();
    await publish(tx, ref, 'progress');
  });
}
