import { statfs } from 'node:fs/promises';
import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import type { AlertsTable } from '../db/types.ts';
import { formatBytes } from '../format.ts';
import { usersUsingAtLeast } from '../uploads/quota.ts';

export type AlertRule = AlertsTable['rule'];

/** A rule's verdict for one subject: it fires while a finding for it is returned. */
export interface Finding {
  rule: AlertRule;
  /** What the alert is about within its rule: a user id, or '' for the whole server. */
  subject: string;
  summary: string;
  details: Record<string, unknown>;
}

/**
 * Failed videos among those that finished (ready or failed) in the last ALERT_WINDOW_MINUTES,
 * once at least ALERT_FAILURE_MIN_COUNT finished (one failure out of one is not a trend).
 */
export async function failureRate(ctx: AppContext): Promise<Finding[]> {
  const cfg = ctx.config.alerts;
  const rows = await sql<{ code: string | null; failed: number; total: number }>`
    SELECT CASE WHEN status = 'failed' THEN coalesce(error_code, 'UNKNOWN') END AS code,
           count(*) FILTER (WHERE status = 'failed')::int AS failed, count(*)::int AS total
    FROM videos
    WHERE status IN ('ready', 'failed') AND updated_at > now() - make_interval(mins => ${cfg.windowMinutes})
    GROUP BY 1`.execute(ctx.db);
  const total = rows.rows.reduce((n, r) => n + r.total, 0);
  const failed = rows.rows.reduce((n, r) => n + r.failed, 0);
  if (total < cfg.failureMinCount) return [];
  const percent = (failed * 100) / total;
  if (percent <= cfg.failureRatePercent) return [];
  const byCode = Object.fromEntries(rows.rows.filter((r) => r.code !== null).map((r) => [r.code, r.failed]));
  return [
    {
      rule: 'failure_rate',
      subject: '',
      summary: `${failed} of ${total} videos finished in the last ${cfg.windowMinutes} min failed (${percent.toFixed(1)} %, threshold ${cfg.failureRatePercent} %)`,
      details: {
        failed,
        total,
        percent: Math.round(percent * 10) / 10,
        byCode,
        windowMinutes: cfg.windowMinutes,
      },
    },
  ];
}

/** The oldest job that is due, not running and not exhausted, waited over ALERT_QUEUE_AGE_MINUTES. */
export async function queueAge(ctx: AppContext): Promise<Finding[]> {
  const cfg = ctx.config.alerts;
  const row = await sql<{ task: string; age: number; waiting: number }>`
    SELECT task_identifier AS task, extract(epoch FROM now() - run_at)::float8 AS age,
           count(*) OVER ()::int AS waiting
    FROM graphile_worker.jobs
    WHERE locked_at IS NULL AND run_at <= now() - make_interval(mins => ${cfg.queueAgeMinutes})
      AND attempts < max_attempts
    ORDER BY run_at
    LIMIT 1`.execute(ctx.db);
  const oldest = row.rows[0];
  if (!oldest) return [];
  const minutes = Math.floor(oldest.age / 60);
  return [
    {
      rule: 'queue_age',
      subject: '',
      summary: `the oldest queued job (${oldest.task}) has waited ${minutes} min (threshold ${cfg.queueAgeMinutes} min); ${oldest.waiting} job(s) waited that long`,
      details: { task: oldest.task, ageSeconds: Math.round(oldest.age), waiting: oldest.waiting },
    },
  ];
}

/**
 * Videos stuck: `processing` with no heartbeat past PROCESSING_STALE_SECONDS and no job waiting
 * to resume them, or `uploaded` past CLEANUP_QUEUE_GRACE_MINUTES with no live processing job
 * (the conditions of the cleanup checks in src/cleanup/check-videos.ts, which repair them).
 */
export async function videoStuck(ctx: AppContext): Promise<Finding[]> {
  const rows = await sql<{ id: string; status: string }>`
    (SELECT v.id, v.status FROM videos v
     JOIN video_analysis a ON a.video_id = v.id
     LEFT JOIN graphile_worker.jobs j ON j.key = 'process_video:' || v.id::text
     WHERE v.status = 'processing'
       AND coalesce(a.last_progress_update, a.updated_at) < now() - make_interval(secs => ${ctx.config.worker.staleSeconds})
       AND (j.id IS NULL OR j.locked_at IS NOT NULL OR j.attempts >= j.max_attempts)
     LIMIT 100)
    UNION ALL
    (SELECT v.id, v.status FROM videos v
     WHERE v.status = 'uploaded'
       AND v.updated_at < now() - make_interval(mins => ${ctx.config.ops.cleanup.queueGraceMinutes})
       AND NOT EXISTS (
         SELECT 1 FROM graphile_worker.jobs j
         WHERE j.key = 'process_video:' || v.id::text AND j.attempts < j.max_attempts)
     LIMIT 100)`.execute(ctx.db);
  if (rows.rows.length === 0) return [];
  const processing = rows.rows.filter((r) => r.status === 'processing').map((r) => r.id);
  const uploaded = rows.rows.filter((r) => r.status === 'uploaded').map((r) => r.id);
  return [
    {
      rule: 'video_stuck',
      subject: '',
      summary: `${processing.length} video(s) processing with no heartbeat, ${uploaded.length} uploaded but never queued`,
      details: { processing: processing.slice(0, 20), uploaded: uploaded.slice(0, 20) },
    },
  ];
}

/** One alert per user whose stored bytes reach ALERT_QUOTA_PERCENT of STORAGE_QUOTA_BYTES. */
export async function quota(ctx: AppContext): Promise<Finding[]> {
  const quotaBytes = ctx.config.limits.storageQuotaBytes;
  const threshold = Math.ceil((quotaBytes * ctx.config.alerts.quotaPercent) / 100);
  const users = await usersUsingAtLeast(ctx.db, threshold);
  return users.map((u) => {
    const percent = Math.round((u.usedBytes * 1000) / quotaBytes) / 10;
    return {
      rule: 'quota',
      subject: u.userId,
      summary: `${u.email} uses ${formatBytes(u.usedBytes)} of ${formatBytes(quotaBytes)} (${percent} %)`,
      details: { userId: u.userId, email: u.email, usedBytes: u.usedBytes, quotaBytes, percent },
    };
  });
}

/** Free space of the file system holding the fs store under ALERT_DISK_FREE_PERCENT. */
export async function diskLow(ctx: AppContext): Promise<Finding[]> {
  const storage = ctx.config.storage;
  if (storage.driver !== 'fs') return [];
  const s = await statfs(storage.root);
  const freeBytes = s.bavail * s.bsize;
  const totalBytes = s.blocks * s.bsize;
  const percent = totalBytes > 0 ? (freeBytes * 100) / totalBytes : 0;
  if (percent >= ctx.config.alerts.diskFreePercent) return [];
  return [
    {
      rule: 'disk_low',
      subject: '',
      summary: `${formatBytes(freeBytes)} free of ${formatBytes(totalBytes)} (${percent.toFixed(1)} %) where videos are stored (threshold ${ctx.config.alerts.diskFreePercent} %)`,
      details: { path: storage.root, freeBytes, totalBytes, percent: Math.round(percent * 10) / 10 },
    },
  ];
}

export const RULES: Record<AlertRule, (ctx: AppContext) => Promise<Finding[]>> = {
  failure_rate: failureRate,
  queue_age: queueAge,
  video_stuck: videoStuck,
  quota,
  disk_low: diskLow,
};
