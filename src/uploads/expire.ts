import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import { toUploadEnded, UNFINISHED } from '../videos/upload-status.ts';

/**
 * The `expire_uploads` task: videos whose upload did not finish within UPLOAD_EXPIRY_HOURS become
 * `upload_expired`; their credits are released and their partial bytes scheduled for deletion.
 * The clock starts when the upload was created over tus (as tus' own Upload-Expires does), or
 * when the session was created for a video never started. Rows are claimed with SKIP LOCKED so
 * several workers can sweep at once, and a video that is being written right now (row locked by
 * its finish) is left for the next sweep.
 */
export async function expireUploads(ctx: AppContext, batchSize = 200): Promise<number> {
  let expired = 0;
  for (;;) {
    const n = await ctx.db.transaction().execute(async (tx) => {
      const rows = await tx
        .selectFrom('videos')
        .select('id')
        .where('status', 'in', UNFINISHED)
        .where(
          sql<Date>`coalesce(upload_started_at, created_at)`,
          '<',
          sql<Date>`now() - make_interval(hours => ${ctx.config.limits.uploadExpiryHours})`,
        )
        .orderBy('created_at')
        .limit(batchSize)
        .forUpdate()
        .skipLocked()
        .execute();
      for (const { id } of rows) {
        await toUploadEnded(tx, ctx.config, id, {
          status: 'upload_expired',
          errorCode: 'UPLOAD_EXPIRED',
          errorMessage: `The upload did not finish within ${ctx.config.limits.uploadExpiryHours} hours. Upload the file again in a new session.`,
          reason: 'upload expired',
        });
      }
      return rows.length;
    });
    expired += n;
    if (n < batchSize) break;
  }
  if (expired > 0) ctx.log.info({ expired }, 'expired unfinished uploads');
  return expired;
}
