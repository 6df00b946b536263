import { readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import type { AppContext } from '../context.ts';
import { enqueue, processJobKey } from '../jobs/queue.ts';
import { isVideoLocked, WORK_DIR } from './runner.ts';

/**
 * Resumes videos whose worker died. graphile-worker would leave such a job locked for 4 hours;
 * this sweep (cron, every minute) finds `processing` videos whose heartbeat is older than
 * PROCESSING_STALE_SECONDS and whose run lock nobody holds (PostgreSQL drops a session's
 * advisory locks when its process dies, so a free lock proves no runner is alive). Their job is
 * unlocked (`force_unlock_workers` for the dead worker id) or, when no job is left, enqueued
 * again. The resumed run skips the steps already checkpointed.
 */
export interface RecoveryReport {
  unlocked: string[];
  requeued: string[];
}

interface StaleRow {
  id: string;
  job_id: string | null;
  locked_by: string | null;
  /** graphile-worker gave up on the job (its process crashed on every attempt). */
  exhausted: boolean;
}

export async function recoverStalledVideos(ctx: AppContext): Promise<RecoveryReport> {
  await removeAbandonedWorkDirs(ctx);
  const stale = await sql<StaleRow>`
    SELECT v.id, j.id::text AS job_id, j.locked_by, coalesce(j.attempts >= j.max_attempts, false) AS exhausted
    FROM videos v
    JOIN video_analysis a ON a.video_id = v.id
    LEFT JOIN graphile_worker.jobs j ON j.key = 'process_video:' || v.id::text
    WHERE (v.status = 'processing' OR (v.status = 'ready' AND a.enrichment_status IN ('pending', 'running')))
      AND coalesce(a.last_progress_update, a.updated_at) < now() - make_interval(secs => ${ctx.config.worker.staleSeconds})
      AND (j.id IS NULL OR j.locked_at IS NOT NULL OR j.attempts >= j.max_attempts)
    LIMIT 100`.execute(ctx.db);
  const report: RecoveryReport = { unlocked: [], requeued: [] };
  if (stale.rows.length === 0) return report;

  const client = new pg.Client({ connectionString: ctx.databaseUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    const deadWorkers = new Set<string>();
    for (const row of stale.rows) {
      if (await isVideoLocked(client, row.id)) continue;
      if (row.job_id && row.locked_by) {
        deadWorkers.add(row.locked_by);
        report.unlocked.push(row.id);
      } else if (!row.job_id || row.exhausted) {
        // A new job (or the exhausted one, reset by add_job); the runner bounds restarts per step.
        await enqueue(ctx.db, 'process_video', { videoId: row.id }, { jobKey: processJobKey(row.id) });
        report.requeued.push(row.id);
      }
    }
    if (deadWorkers.size > 0) {
      await sql`SELECT graphile_worker.force_unlock_workers(${[...deadWorkers]}::text[])`.execute(ctx.db);
    }
  } finally {
    await client.end().catch(() => {});
  }
  if (report.unlocked.length + report.requeued.length > 0) {
    ctx.log.warn(report, 'resumed processing of videos whose worker stopped');
  }
  return report;
}

/**
 * Temp dirs of steps whose worker was killed on this machine (named `<videoId>-<step>-*`). A dir
 * is abandoned once nobody holds its video's run lock (a live runner holds it for as long as its
 * dir exists) and it is older than PROCESSING_STALE_SECONDS (a runner that lost its lock's
 * connection takes it again within seconds of the database answering); a dir older than the
 * step timeout (plus a margin) has no owner whatever the database says.
 */
async function removeAbandonedWorkDirs(ctx: AppContext): Promise<void> {
  const { stepTimeoutSeconds, staleSeconds } = ctx.config.worker;
  const now = Date.now();
  const entries = await readdir(WORK_DIR).catch(() => [] as string[]);
  const candidates: Array<{ dir: string; videoId: string }> = [];
  for (const name of entries) {
    const dir = path.join(WORK_DIR, name);
    const st = await stat(dir).catch(() => undefined);
    if (!st) continue;
    if (st.mtimeMs < now - (stepTimeoutSeconds + 600) * 1000) {
      await rm(dir, { recursive: true, force: true });
      continue;
    }
    const videoId = /^([0-9a-f-]{36})-/.exec(name)?.[1];
    if (videoId && st.mtimeMs < now - staleSeconds * 1000) candidates.push({ dir, videoId });
  }
  if (candidates.length === 0) return;
  const client = new pg.Client({ connectionString: ctx.databaseUrl });
  client.on('error', () => {});
  await client.connect();
  try {
    for (const c of candidates) {
      if (!(await isVideoLocked(client, c.videoId))) await rm(c.dir, { recursive: true, force: true });
    }
  } finally {
    await client.end().catch(() => {});
  }
}
