import { sql } from 'kysely';
import type { Tx } from '../db/database.ts';
import type { Checkpoint } from '../processing/types.ts';
import { publishVideoState } from './status.ts';

/**
 * The enrichment's transitions (after `ready`: storyboard, scenes, sound, transcript), owned with
 * the video's own in src/videos/status.ts. The video stays ready and charged whatever happens
 * here: these move `video_analysis.enrichment_*` only, each a conditional update that publishes.
 */

const moved = (r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows) > 0;

/** Enrichment asked for again (reprocess of a ready video whose analysis is not running). */
export async function toEnrichmentPending(tx: Tx, videoId: string, checkpoint: Checkpoint): Promise<boolean> {
  const r = await tx
    .updateTable('video_analysis')
    .set({
      checkpoint: JSON.stringify(checkpoint),
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
    .where('enrichment_status', 'in', ['ready', 'failed'])
    .executeTakeFirst();
  if (!moved(r)) return false;
  await publishVideoState(tx, videoId, 'progress');
  return true;
}

/** A worker claims the enrichment of a ready video. */
export async function toEnrichmentRunning(tx: Tx, videoId: string): Promise<boolean> {
  const r = await tx
    .updateTable('video_analysis')
    .set({ enrichment_status: 'running', updated_at: sql`now()` })
    .where('video_id', '=', videoId)
    .where('enrichment_status', 'in', ['pending', 'running'])
    .executeTakeFirst();
  return moved(r);
}

/** Enrichment done: announced as `video.analysis.ready`. */
export async function toEnrichmentReady(tx: Tx, videoId: string): Promise<boolean> {
  const r = await tx
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
    .where('video_id', '=', videoId)
    .where('enrichment_status', 'in', ['pending', 'running'])
    .executeTakeFirst();
  if (!moved(r)) return false;
  await publishVideoState(tx, videoId, 'analysis.ready');
  return true;
}

/** Enrichment failed for good: the video stays ready and charged once; reprocess runs it again. */
export async function toEnrichmentFailed(
  tx: Tx,
  videoId: string,
  e: { code: string; message: string },
  run: { attempts: number; crashes: number },
): Promise<boolean> {
  const r = await tx
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
    .where('video_id', '=', videoId)
    .where('enrichment_status', 'in', ['pending', 'running'])
    .executeTakeFirst();
  if (!moved(r)) return false;
  await publishVideoState(tx, videoId, 'progress');
  return true;
}
