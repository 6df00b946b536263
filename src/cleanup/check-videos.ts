import { sql } from 'kysely';
import pg from 'pg';
import type { AppContext } from '../context.ts';
import { enqueue, processJobKey } from '../jobs/queue.ts';
import { recoverStalledVideos } from '../processing/recovery.ts';
import { isVideoLocked } from '../processing/runner.ts';
import { expireUploads } from '../uploads/expire.ts';
import { UNFINISHED } from '../uploads/upload-state.ts';
import { type CheckResult, type CleanupDetail, errorText, outcomeOf } from './report.ts';

/**
 * Checks of videos stuck in the middle of their life. Each finds its candidates with a
 * read-only query (all a dry run does), then repairs them through the module that owns the
 * transition (expire.ts, recovery.ts, the job queue), so the sweep and the regular housekeeping
 * jobs can never disagree about what "stuck" means or how it is fixed.
 */

/** Uploads not finished within UPLOAD_EXPIRY_HOURS: expired, partial bytes deleted, credits released. */
export async function checkExpiredUploads(ctx: AppContext, dryRun: boolean): Promise<CheckResult> {
  const hours = ctx.config.limits.uploadExpiryHours;
  // The same predicate as expire.ts; a live upload (started within the expiry) never matches.
  const rows = await ctx.db
    .selectFrom('videos as v')
    .leftJoin('credit_reservations as r', (j) =>
      j.onRef('r.video_id', '=', 'v.id').on('r.state', '=', 'reserved'),
    )
    .select(['v.id', 'v.received_bytes', sql<number>`coalesce(r.amount, 0)`.as('credits')])
    .where('v.status', 'in', UNFINISHED)
    .where(
      sql<Date>`coalesce(v.upload_started_at, v.created_at)`,
      '<',
      sql<Date>`now() - make_interval(hours => ${hours})`,
    )
    .orderBy('v.created_at')
    .limit(1000)
    .execute();
  if (!dryRun && rows.length > 0) await expireUploads(ctx);
  const after = dryRun
    ? new Map<string, string>()
    : await statusesOf(
        ctx,
        rows.map((r) => r.id),
      );
  const items = rows.map(
    (r): CleanupDetail => ({
      check: 'expired_uploads',
      target: r.id,
      reason: `upload not finished within ${hours} h (UPLOAD_EXPIRY_HOURS)`,
      action: 'expire the upload, delete its partial bytes, release its credits',
      outcome: dryRun ? 'would_repair' : after.get(r.id) === 'upload_expired' ? 'repaired' : 'skipped',
      bytes: Number(r.received_bytes),
      credits: Number(r.credits),
    }),
  );
  return { examined: rows.length, items };
}

interface StaleRow {
  id: string;
}

/**
 * (The candidate query mirrors recovery.ts's, read-only.)
 * `processing` videos whose heartbeat stopped (PROCESSING_STALE_SECONDS) and whose run lock
 * nobody holds: resumed by recovery.ts (job unlocked, or queued again; the runner fails a video
 * whose step was started too often, after its last attempt). A video whose lock is held has a
 * live runner and is left alone.
 */
export async function checkStalledProcessing(ctx: AppContext, dryRun: boolean): Promise<CheckResult> {
  const stale = await sql<StaleRow>`
    SELECT v.id FROM videos v
    JOIN video_analysis a ON a.video_id = v.id
    LEFT JOIN graphile_worker.jobs j ON j.key = 'process_video:' || v.id::text
    WHERE v.status = 'processing'
      AND coalesce(a.last_progress_update, a.updated_at) < now() - make_interval(secs => ${ctx.config.worker.staleSeconds})
      AND (j.id IS NULL OR j.locked_at IS NOT NULL OR j.attempts >= j.max_attempts)
    LIMIT 100`.execute(ctx.db);
  if (stale.rows.length === 0) return { examined: 0, items: [] };
  const running = new Set<string>();
  const client = new pg.Client({ connectionString: ctx.databaseUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    for (const row of stale.rows) if (await isVideoLocked(client, row.id)) running.add(row.id);
  } finally {
    await client.end().catch(() => {});
  }
  const candidates = stale.rows.filter((r) => !running.has(r.id));
  let resumed = new Map<string, string>();
  if (!dryRun && candidates.length > 0) {
    const report = await recoverStalledVideos(ctx);
    resumed = new Map([
      ...report.unlocked.map((id): [string, string] => [id, 'job unlocked']),
      ...report.requeued.map((id): [string, string] => [id, 'queued again']),
    ]);
  }
  const items = candidates.map(
    (r): CleanupDetail => ({
      check: 'stalled_processing',
      target: r.id,
      reason: `no processing heartbeat for over ${ctx.config.worker.staleSeconds} s and no worker holds it`,
      action: dryRun
        ? 'resume processing from its last checkpoint'
        : `resume processing (${resumed.get(r.id) ?? 'not done: it changed meanwhile'})`,
      outcome: dryRun ? 'would_repair' : resumed.has(r.id) ? 'repaired' : 'skipped',
    }),
  );
  return { examined: stale.rows.length, items };
}

/** `uploaded` videos with no live processing job (lost, or exhausted before it ever ran): queued. */
export async function checkNeverQueued(ctx: AppContext, dryRun: boolean): Promise<CheckResult> {
  const grace = ctx.config.ops.cleanup.queueGraceMinutes;
  const rows = await sql<{ id: string }>`
    SELECT v.id FROM videos v
    WHERE v.status = 'uploaded'
      AND v.updated_at < now() - make_interval(mins => ${grace})
      AND NOT EXISTS (
        SELECT 1 FROM graphile_worker.jobs j
        WHERE j.key = 'process_video:' || v.id::text AND j.attempts < j.max_attempts
      )
    ORDER BY v.updated_at
    LIMIT 1000`.execute(ctx.db);
  const items: CleanupDetail[] = [];
  for (const { id } of rows.rows) {
    const item: CleanupDetail = {
      check: 'never_queued',
      target: id,
      reason: `uploaded over ${grace} min ago but no processing job exists`,
      action: 'queue its processing job',
      outcome: outcomeOf(dryRun),
    };
    if (!dryRun) {
      try {
        await enqueue(ctx.db, 'process_video', { videoId: id }, { jobKey: processJobKey(id) });
      } catch (err) {
        item.outcome = 'error';
        item.error = errorText(err);
      }
    }
    items.push(item);
  }
  return { examined: rows.rows.length, items };
}

async function statusesOf(ctx: AppContext, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await ctx.db.selectFrom('videos').select(['id', 'status']).where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, r.status]));
}
