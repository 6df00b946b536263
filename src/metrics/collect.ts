import { timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import { register as globalRegistry } from 'prom-client';
import type { Db } from '../db/database.ts';
import { VIDEO_STATUSES } from '../db/types.ts';
import { queueDepth, queueOldestAge, registry, videosByStatus } from './metrics.ts';

/**
 * Renders the Prometheus text for a scrape of this node: first the gauges read from the
 * database (two cheap aggregate queries), then the whole registry. A database that does not
 * answer within 3 s leaves those gauges at their last value; the process series still render.
 */
const DB_COLLECT_TIMEOUT_MS = 3000;

export async function renderMetrics(db: Db): Promise<{ contentType: string; body: string }> {
  // Scrapes must not fail, nor hang, while the database is down or slow; readiness reports that.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    collectFromDatabase(db).catch(() => {}),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DB_COLLECT_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  // Series another module registered on prom-client's default registry (rather than on ours)
  // are exported too; names must not repeat across the two.
  const [own, global] = await Promise.all([registry.metrics(), globalRegistry.metrics()]);
  return { contentType: registry.contentType, body: global ? `${own}\n${global}` : own };
}

async function collectFromDatabase(db: Db): Promise<void> {
  const [videos, jobs] = await Promise.all([
    sql<{ status: string; n: string }>`
      SELECT status, count(*)::text AS n FROM videos GROUP BY status`.execute(db),
    sql<{ task: string; n: string; oldest: number | null }>`
      SELECT task_identifier AS task, count(*)::text AS n,
             extract(epoch FROM now() - min(run_at) FILTER (WHERE locked_at IS NULL AND run_at <= now()))::float8 AS oldest
      FROM graphile_worker.jobs GROUP BY task_identifier`.execute(db),
  ]);
  const byStatus = new Map(videos.rows.map((r) => [r.status, Number(r.n)]));
  for (const status of VIDEO_STATUSES) videosByStatus.set({ status }, byStatus.get(status) ?? 0);
  queueDepth.reset();
  let oldest = 0;
  for (const r of jobs.rows) {
    queueDepth.set({ task: r.task }, Number(r.n));
    if (r.oldest !== null) oldest = Math.max(oldest, r.oldest);
  }
  queueOldestAge.set(oldest);
}

/** With METRICS_TOKEN set, only "Authorization: Bearer <token>" may scrape. */
export function metricsAuthorized(token: string | undefined, header: string | undefined): boolean {
  if (!token) return true;
  const given = Buffer.from(header?.match(/^Bearer (.+)$/i)?.[1] ?? '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
