import { sql } from 'kysely';
import type { AppContext } from '../context.ts';
import {
  discardS3Upload,
  offsetOf,
  S3UploadRows,
  s3Target,
  withS3Uploads,
} from '../uploads/s3-upload-state.ts';
import { UNFINISHED } from '../uploads/upload-state.ts';
import { type CheckResult, type CleanupDetail, errorText, outcomeOf } from './report.ts';

/**
 * Abandoned S3 multipart uploads: rows of `s3_uploads` (src/uploads/s3-upload-state.ts) whose
 * video is gone or can no longer receive bytes (canceled, expired, failed, or finished with the
 * row left behind by a crash), untouched for CLEANUP_ORPHAN_GRACE_MINUTES, or whose upload has
 * been idle past UPLOAD_EXPIRY_HOURS. Each is aborted (S3
 * frees its parts), its tail object deleted, its row dropped. An upload written to within the
 * grace (or, while its video is unfinished, within the expiry) is live and left alone. The original's key is never touched here.
 */
export async function checkAbandonedMultiparts(ctx: AppContext, dryRun: boolean): Promise<CheckResult> {
  const s3 = s3Target(ctx.config, ctx.store);
  if (!s3) return { examined: 0, items: [] };
  const hours = ctx.config.limits.uploadExpiryHours;
  const graceMin = ctx.config.ops.cleanup.orphanGraceMinutes;
  const db = withS3Uploads(ctx.db);
  const examined = await db
    .selectFrom('s3_uploads')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .executeTakeFirstOrThrow();
  const rows = await db
    .selectFrom('s3_uploads as u')
    .leftJoin('videos as v', 'v.id', 'u.video_id')
    .select(['u.video_id', 'v.status'])
    .where((eb) =>
      eb.or([
        eb.and([
          eb.or([eb('v.id', 'is', null), eb('v.status', 'not in', UNFINISHED)]),
          eb('u.updated_at', '<', sql<Date>`now() - make_interval(mins => ${graceMin})`),
        ]),
        eb('u.updated_at', '<', sql<Date>`now() - make_interval(hours => ${hours})`),
      ]),
    )
    .orderBy('u.updated_at')
    .limit(1000)
    .execute();
  const state = new S3UploadRows(ctx.db);
  const items: CleanupDetail[] = [];
  for (const r of rows) {
    const upload = await state.load(r.video_id);
    if (!upload) continue;
    const item: CleanupDetail = {
      check: 'abandoned_multiparts',
      target: r.video_id,
      reason:
        r.status && UNFINISHED.includes(r.status)
          ? `S3 upload of a video still ${r.status} but idle for over ${hours} h`
          : `S3 upload of ${r.status ? `a video that is ${r.status}` : 'no video'}, untouched for over ${graceMin} min`,
      action: upload.uploadId ? 'abort the multipart upload and delete its tail' : 'delete the tail',
      outcome: outcomeOf(dryRun),
      bytes: offsetOf(upload),
    };
    if (!dryRun) {
      try {
        await discardS3Upload(s3.client, s3.bucket, state, upload);
      } catch (err) {
        item.outcome = 'error';
        item.error = errorText(err);
      }
    }
    items.push(item);
  }
  return { examined: Number(examined.n), items };
}
