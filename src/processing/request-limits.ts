import { sql } from 'kysely';
import type { Config } from '../config.ts';
import type { Tx } from '../db/database.ts';
import { AppError } from '../errors.ts';

/**
 * Runs a user asks for again (retry of a failed video, re-analysis of a ready one) cost a worker
 * real time, so they are counted: per video (MAX_RETRIES_PER_VIDEO) and per user over the last
 * 24 hours (MAX_RETRIES_PER_USER_PER_DAY). Automatic retries of a transient failure are the
 * runner's and are not counted here.
 *
 * Invariant: counted and recorded in the caller's transaction, under a per-user transaction lock,
 * so parallel requests cannot all pass the same count.
 */
export async function recordProcessingRequest(
  tx: Tx,
  limits: Config['limits'],
  req: { userId: string; videoId: string; kind: 'retry' | 'reprocess' },
): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtext('clipdock.processing_requests'), hashtext(${req.userId}))`.execute(
    tx,
  );
  const counts = await tx
    .selectFrom('processing_requests')
    .select([
      sql<number>`count(*) FILTER (WHERE video_id = ${req.videoId})::int`.as('video'),
      sql<number>`count(*) FILTER (WHERE created_at > now() - interval '24 hours')::int`.as('day'),
      sql<Date | null>`min(created_at) FILTER (WHERE created_at > now() - interval '24 hours')`.as('oldest'),
    ])
    .where('user_id', '=', req.userId)
    .executeTakeFirstOrThrow();
  if (counts.video >= limits.maxRetriesPerVideo) {
    throw new AppError(
      'RETRY_LIMIT_REACHED',
      `This video was run again ${counts.video} times already, this server's limit (MAX_RETRIES_PER_VIDEO). Delete it and upload the file again, or ask the administrator.`,
      { limit: limits.maxRetriesPerVideo },
    );
  }
  if (counts.day >= limits.maxRetriesPerUserPerDay) {
    const next = counts.oldest ? new Date(new Date(counts.oldest).getTime() + 24 * 3600_000) : undefined;
    throw new AppError(
      'DAILY_RETRY_LIMIT_REACHED',
      `You asked for ${counts.day} retries and re-analyses in the last 24 hours, this server's limit (MAX_RETRIES_PER_USER_PER_DAY).${next ? ` You can ask again after ${next.toISOString().slice(0, 16).replace('T', ' ')} UTC.` : ''}`,
      { limit: limits.maxRetriesPerUserPerDay, ...(next ? { retryAfter: next.toISOString() } : {}) },
    );
  }
  await tx
    .insertInto('processing_requests')
    .values({ user_id: req.userId, video_id: req.videoId, kind: req.kind })
    .execute();
}
