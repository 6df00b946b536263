import { sql } from 'kysely';
import type { Db } from '../db/database.ts';

export interface UploadAnalytics {
  days: number;
  /** Completed uploads (upload_metrics rows) in the period; speeds in bytes per second. */
  uploads: {
    count: number;
    speedP50: number | null;
    speedP95: number | null;
    totalBytes: number;
    resumes: number;
  };
  /** Videos created in the period that finished (ready or failed), and the failures by code. */
  failures: {
    finished: number;
    failed: number;
    rate: number;
    byCode: Array<{ code: string; count: number; rate: number }>;
  };
  /** One entry per UTC day of the period, oldest first, days without activity included. */
  perDay: Array<{
    day: string;
    uploads: number;
    bytes: number;
    processed: number;
    processingP50Seconds: number | null;
    processingP95Seconds: number | null;
  }>;
}

/**
 * Upload analytics for the admin page, computed in SQL over the last `days` UTC days (today
 * included). Percentiles are `percentile_cont` (linear interpolation between the two nearest
 * ranks). Processing time is first start to completion of videos that became ready.
 */
export async function uploadAnalytics(db: Db, days: number): Promise<UploadAnalytics> {
  const since = sql`date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' - make_interval(days => ${days - 1})`;
  const [uploads, failures, perDay] = await Promise.all([
    sql<{ count: number; p50: number | null; p95: number | null; bytes: string; resumes: number }>`
      SELECT count(*)::int AS count,
             percentile_cont(0.5) WITHIN GROUP (ORDER BY bytes_per_second) AS p50,
             percentile_cont(0.95) WITHIN GROUP (ORDER BY bytes_per_second) AS p95,
             coalesce(sum(size_bytes), 0)::text AS bytes, coalesce(sum(resumes), 0)::int AS resumes
      FROM upload_metrics WHERE created_at >= ${since} AND error_type IS NULL`.execute(db),
    sql<{ code: string | null; n: number }>`
      SELECT CASE WHEN status = 'failed' THEN coalesce(error_code, 'UNKNOWN') END AS code, count(*)::int AS n
      FROM videos WHERE created_at >= ${since} AND status IN ('ready', 'failed')
      GROUP BY 1 ORDER BY n DESC, code`.execute(db),
    sql<{
      day: string;
      uploads: number;
      bytes: string;
      processed: number;
      p50: number | null;
      p95: number | null;
    }>`
      WITH days AS (
        SELECT generate_series(${since}, now(), interval '1 day') AS day
      ), up AS (
        SELECT date_trunc('day', created_at AT TIME ZONE 'UTC') AS day, count(*)::int AS n, sum(size_bytes) AS bytes
        FROM upload_metrics WHERE created_at >= ${since} AND error_type IS NULL GROUP BY 1
      ), proc AS (
        SELECT date_trunc('day', completed_at AT TIME ZONE 'UTC') AS day, count(*)::int AS n,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at)) AS p50,
               percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - started_at)) AS p95
        FROM video_analysis a JOIN videos v ON v.id = a.video_id
        WHERE v.status = 'ready' AND a.completed_at >= ${since} AND a.started_at IS NOT NULL
        GROUP BY 1
      )
      SELECT to_char(d.day AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
             coalesce(up.n, 0) AS uploads, coalesce(up.bytes, 0)::text AS bytes,
             coalesce(proc.n, 0) AS processed, proc.p50, proc.p95
      FROM days d
      LEFT JOIN up ON up.day = d.day AT TIME ZONE 'UTC'
      LEFT JOIN proc ON proc.day = d.day AT TIME ZONE 'UTC'
      ORDER BY d.day`.execute(db),
  ]);
  const u = uploads.rows[0]!;
  const finished = failures.rows.reduce((n, r) => n + r.n, 0);
  const failedRows = failures.rows.filter((r) => r.code !== null);
  const failed = failedRows.reduce((n, r) => n + r.n, 0);
  const rate = (n: number) => (finished === 0 ? 0 : n / finished);
  return {
    days,
    uploads: {
      count: u.count,
      speedP50: u.p50,
      speedP95: u.p95,
      totalBytes: Number(u.bytes),
      resumes: u.resumes,
    },
    failures: {
      finished,
      failed,
      rate: rate(failed),
      byCode: failedRows.map((r) => ({ code: r.code!, count: r.n, rate: rate(r.n) })),
    },
    perDay: perDay.rows.map((r) => ({
      day: r.day,
      uploads: r.uploads,
      bytes: Number(r.bytes),
      processed: r.processed,
      processingP50Seconds: r.p50,
      processingP95Seconds: r.p95,
    })),
  };
}
