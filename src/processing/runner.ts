import { mkdir, mkdtemp, rm, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { scheduleCleanup } from '../cleanup/cleanup.ts';
import type { AppContext } from '../context.ts';
import { whileDatabaseDown } from '../db/unavailable.ts';
import { AppError } from '../errors.ts';
import { MediaAbortedError } from '../media/ffmpeg.ts';
import { createMediaTools, type MediaTools } from '../media/media-tools.ts';
import { startStepTimer } from '../metrics/metrics.ts';
import { keys, StorageNotFoundError } from '../storage/object-store.ts';
import { createTranscriptionProvider } from '../transcription/index.ts';
import type { TranscriptionProvider } from '../transcription/provider.ts';
import { toEnrichmentRunning } from '../videos/analysis-status.ts';
import { toProcessing } from '../videos/status.ts';
import { recordEndedRun, saveCheckpoint, saveStepResult, stillRunnable } from './checkpoints.ts';
import { isToolCrash, judgeFailure } from './failure-policy.ts';
import { type Phase, ProgressReporter, publish, type VideoRef } from './progress.ts';
import { RunLock } from './run-lock.ts';
import { finishEnrichment, finishFailed, finishReady, scheduleRetry } from './settle.ts';
import { analyzeStep } from './steps/analyze.ts';
import { normalizeStep } from './steps/normalize.ts';
import { posterStep } from './steps/poster.ts';
import { probeStep } from './steps/probe.ts';
import { readRange, type Step, type StepContext } from './steps/step.ts';
import { transcribeStep } from './steps/transcribe.ts';
import {
  type Checkpoint,
  isEnrichStep,
  STEP_NAMES,
  STEP_WEIGHTS,
  type StepName,
  type StepOutputs,
} from './types.ts';

/**
 * Runs the pipeline for one video, resuming after the last checkpointed step.
 *
 * Invariants:
 * - At most one runner works on a video at a time, across processes: it holds a session advisory
 *   lock on a connection of its own for the whole run (released by PostgreSQL if the process
 *   dies), and only a video in `uploaded`/`processing` is claimed.
 * - A finished step's output is committed to `checkpoint.done` before the next step starts; a
 *   resumed run never starts it again (`checkpoint.runs` counts starts).
 * - The video becomes `ready` and its reservation is captured in one transaction as soon as the
 *   playable steps (probe, normalize, poster) are done; enrichment (analyze, transcribe) then runs
 *   in the same job while the video is ready, with its own state (`enrichment_*`). An enrichment
 *   failure never fails the video nor touches its charge. A video becomes `failed` and its
 *   reservation is released in one transaction. The ledger settles at most once.
 * - Bad media (an AppError from probe) fails at once; a media tool that crashes twice on the
 *   input fails it with MEDIA_TOOL_CRASHED. Anything else is transient: retried with exponential
 *   backoff and jitter, up to PROCESSING_MAX_ATTEMPTS (see failure-policy.ts).
 */
export type RunOutcome =
  | 'ready'
  | 'failed'
  | 'analysis_failed'
  | 'retry_scheduled'
  | 'not_processable'
  | 'busy';

export interface RunOptions {
  /** Aborted on worker shutdown: ffmpeg is killed and the job is retried later. */
  signal: AbortSignal;
  /** Re-analysis of a ready video: a failure leaves it ready, with the error on its analysis. */
  reprocess?: boolean;
  media?: MediaTools;
  transcription?: TranscriptionProvider;
}

const STEPS: { [N in StepName]: Step<N> } = {
  probe: probeStep,
  normalize: normalizeStep,
  poster: posterStep,
  analyze: analyzeStep,
  transcribe: transcribeStep,
};

const PROGRESS_INTERVAL_MS = 250;
/** Steps' temp dirs; what a killed worker left here is removed by the recovery sweep. */
export const WORK_DIR = path.join(os.tmpdir(), 'clipdock-work');
// The recovery sweep's check of the run lock (kept exported here for its callers).
export { isVideoLocked } from './run-lock.ts';

export async function processVideo(ctx: AppContext, videoId: string, opts: RunOptions): Promise<RunOutcome> {
  const lock = new RunLock(ctx.databaseUrl, videoId, ctx.log);
  try {
    if (!(await lock.acquire())) return 'busy';
    const outcome = await runLocked(ctx, videoId, opts, lock);
    await cleanUpIfDeleted(ctx, videoId);
    return outcome;
  } finally {
    await lock.release();
  }
}

/**
 * A video deleted while a step was running may have had an output written after its delete's
 * cleanup ran. Once the run is over nothing more is written, so a second prefix delete then
 * leaves nothing orphaned.
 */
async function cleanUpIfDeleted(ctx: AppContext, videoId: string): Promise<void> {
  const exists = await ctx.db.selectFrom('videos').select('id').where('id', '=', videoId).executeTakeFirst();
  if (exists) return;
  await scheduleCleanup(ctx.db, [
    { kind: 'delete_prefix', target: keys.videoPrefix(videoId), reason: 'video deleted while processing' },
  ]);
}

async function runLocked(
  ctx: AppContext,
  videoId: string,
  opts: RunOptions,
  lock: RunLock,
): Promise<RunOutcome> {
  const claim = await ctx.db.transaction().execute(async (tx) => {
    const v = await tx
      .selectFrom('videos')
      .select(['id', 'user_id', 'project_id', 'session_id', 'status', 'storage_key'])
      .where('id', '=', videoId)
      .forUpdate()
      .executeTakeFirst();
    if (!v?.storage_key) return undefined;
    await tx
      .insertInto('video_analysis')
      .values({ video_id: videoId, checkpoint: JSON.stringify({ done: {}, runs: {} }) })
      .onConflict((oc) => oc.column('video_id').doNothing())
      .execute();
    let phase: Phase;
    if (await toProcessing(tx, videoId)) phase = 'playable';
    else if (v.status === 'ready' && (await toEnrichmentRunning(tx, videoId))) phase = 'enrich';
    else return undefined;
    const a = await tx
      .updateTable('video_analysis')
      .set({
        started_at: sql`coalesce(started_at, now())`,
        last_progress_update: sql`now()`,
        retry_after: null,
        updated_at: sql`now()`,
      })
      .where('video_id', '=', videoId)
      .returning(['checkpoint', 'attempts', 'tool_crashes'])
      .executeTakeFirstOrThrow();
    const ref: VideoRef = { videoId, userId: v.user_id, projectId: v.project_id, sessionId: v.session_id };
    await publish(tx, ref, 'progress');
    const cp = a.checkpoint as Partial<Checkpoint>;
    return {
      ref,
      phase,
      storageKey: v.storage_key,
      attempts: a.attempts,
      toolCrashes: a.tool_crashes,
      checkpoint: {
        done: cp.done ?? {},
        runs: cp.runs ?? {},
        ended: cp.ended ?? {},
        ...(cp.reprocess ? { reprocess: true } : {}),
      } as Checkpoint,
    };
  });
  if (!claim) return 'not_processable';

  const { ref, checkpoint } = claim;
  let phase = claim.phase;
  const reprocess = !!opts.reprocess || !!checkpoint.reprocess;
  const cfg = ctx.config;
  const media =
    opts.media ??
    createMediaTools({
      media: cfg.media,
      threads: cfg.worker.ffmpegThreads,
      limits: {
        maxDurationSeconds: cfg.limits.maxDurationSeconds,
        maxDimension: cfg.limits.maxDimension,
        maxPixelFrames: cfg.limits.maxPixelFrames,
      },
    });
  const transcription = opts.transcription ?? createTranscriptionProvider(cfg.transcription);
  const heartbeatMs = Math.max(1000, Math.min(15_000, (cfg.worker.staleSeconds * 1000) / 6));
  const reporter = new ProgressReporter(ctx.db, ref, { minIntervalMs: PROGRESS_INTERVAL_MS, heartbeatMs });
  reporter.phase = phase;
  let current: StepName | null = null;
  /** The step whose start was counted in this run and that has not finished. */
  let started: StepName | null = null;
  /** Moves the video to `ready` (playable, charged); false when it was canceled or deleted. */
  const becomeReady = async (): Promise<boolean> => {
    await reporter.flush();
    if (!(await lock.stillHeld(opts.signal))) return false;
    const moved = await whileDatabaseDown(() => finishReady(ctx, ref), { signal: opts.signal });
    if (!moved) return false;
    phase = 'enrich';
    reporter.phase = phase;
    return true;
  };
  try {
    const head = await ctx.store.head(claim.storageKey);
    if (!head) throw new StorageNotFoundError(claim.storageKey);
    const original = {
      location: await ctx.store.localPathOrUrl(claim.storageKey, 6 * 3600),
      sizeBytes: head.size,
      readBytes: (start: number, end: number) => readRange(ctx.store, claim.storageKey, start, end),
    };
    for (const name of STEP_NAMES) {
      if (checkpoint.done[name] !== undefined) continue;
      // The playable steps are done: the video is ready before any enrichment step starts.
      if (isEnrichStep(name) && phase === 'playable' && !(await becomeReady())) {
        await reporter.stop();
        return 'not_processable';
      }
      // Canceled or deleted meanwhile: stop here; whoever changed it settled the credits.
      if (!(await stillRunnable(ctx, videoId, phase))) {
        await reporter.stop();
        return 'not_processable';
      }
      current = name;
      // A step that keeps killing its worker (each start is counted before it runs) must end.
      const stopped = (checkpoint.runs[name] ?? 0) - (checkpoint.ended?.[name] ?? 0);
      if (stopped >= cfg.worker.maxAttempts + 2) {
        throw new AppError(
          'PROCESSING_FAILED',
          `The ${name} step's worker stopped ${stopped} times before the step finished (killed, or out of memory). Retry later; the original is kept.`,
        );
      }
      // Progress within the phase: the steps towards `ready`, or enrichment's.
      const base = STEP_NAMES.filter(
        (s) => checkpoint.done[s] !== undefined && isEnrichStep(s) === isEnrichStep(name),
      ).reduce((n, s) => n + STEP_WEIGHTS[s], 0);
      checkpoint.runs[name] = (checkpoint.runs[name] ?? 0) + 1;
      await saveCheckpoint(ctx, ref, checkpoint, name, base, phase);
      started = name;
      await mkdir(WORK_DIR, { recursive: true });
      const tmpDir = await mkdtemp(path.join(WORK_DIR, `${videoId}-${name}-`));
      const timeout = AbortSignal.timeout(cfg.worker.stepTimeoutSeconds * 1000);
      const signal = AbortSignal.any([opts.signal, timeout]);
      const stepCtx: StepContext = {
        videoId,
        store: ctx.store,
        media,
        config: cfg,
        transcription,
        original,
        done: checkpoint.done,
        signal,
        onProgress: (f, eta) => reporter.report(name, f * 100, base + STEP_WEIGHTS[name] * f, eta),
        tmpDir,
      };
      let output: StepOutputs[typeof name];
      const endStepTimer = startStepTimer(name);
      // A fresh mtime says "in use" to the sweep of abandoned work dirs (recovery.ts), which
      // other nodes sharing this machine's temp dir run too; a long ffmpeg run writes nothing here.
      const touch = setInterval(() => void utimes(tmpDir, new Date(), new Date()).catch(() => {}), 1000);
      touch.unref();
      try {
        output = await (STEPS[name] as Step<typeof name>)(stepCtx);
      } catch (err) {
        if (timeout.aborted && !opts.signal.aborted) {
          throw new AppError(
            'PROCESSING_TIMEOUT',
            `The ${name} step took longer than ${cfg.worker.stepTimeoutSeconds} s, this server's limit (PROCESSING_STEP_TIMEOUT_SECONDS). Retry, or upload a shorter video.`,
          );
        }
        throw err;
      } finally {
        clearInterval(touch);
        endStepTimer();
        await rm(tmpDir, { recursive: true, force: true });
      }
      await reporter.flush();
      // Another runner took over while the database was away: it owns the video now.
      if (!(await lock.stillHeld(opts.signal))) {
        await reporter.stop();
        return 'busy';
      }
      (checkpoint.done as Record<string, unknown>)[name] = output;
      // A finished step survives a blip of the database: its result is written once it is back
      // (a transcode is never redone because one write failed).
      await whileDatabaseDown(
        () => saveStepResult(ctx, ref, checkpoint, name, output, base + STEP_WEIGHTS[name], phase),
        { signal: opts.signal },
      );
      started = null;
    }
    if (phase === 'playable' && !(await becomeReady())) {
      await reporter.stop();
      return 'not_processable';
    }
    await reporter.stop();
    if (!(await lock.stillHeld(opts.signal))) return 'busy';
    await whileDatabaseDown(() => finishEnrichment(ctx, ref), { signal: opts.signal });
    return 'ready';
  } catch (err) {
    await reporter.stop();
    if (opts.signal.aborted || err instanceof MediaAbortedError) throw err;
    if (!(await lock.stillHeld(opts.signal))) return 'busy';
    // Canceled or deleted while the step ran (its original may be gone): nothing to retry.
    if (!(await stillRunnable(ctx, videoId, phase))) return 'not_processable';
    if (started) await recordEndedRun(ctx, videoId, started);
    const crashes = claim.toolCrashes + (isToolCrash(err) ? 1 : 0);
    // Enrichment counts its own attempts (reset when the video became ready).
    const attempts = (phase === claim.phase ? claim.attempts : 0) + 1;
    const run = { attempts, crashes, reprocess, phase };
    const verdict = judgeFailure(err, { ...run, maxAttempts: cfg.worker.maxAttempts, step: current });
    // The whole error, stderr included, is for operators only.
    if (verdict.kind === 'fail') {
      ctx.log.warn({ videoId, step: current, phase, err }, `processing failed: ${verdict.error.code}`);
      await finishFailed(ctx, ref, verdict.error, run);
      return phase === 'enrich' ? 'analysis_failed' : 'failed';
    }
    ctx.log.warn({ videoId, step: current, attempts: run.attempts, err }, 'processing failed; retrying');
    await scheduleRetry(ctx, ref, verdict.note, run);
    return 'retry_scheduled';
  }
}
