import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { scheduleCleanup } from '../cleanup/cleanup.ts';
import type { AppContext } from '../context.ts';
import type { AppError } from '../errors.ts';
import { enqueue, processJobKey } from '../jobs/queue.ts';
import { countUploadOutcome } from '../metrics/metrics.ts';
import { keys } from '../storage/object-store.ts';
import { toUploadEnded, toUploaded } from '../videos/upload-status.ts';
import { detectStoredOriginal, refusalOf } from './verdict.ts';

/** An upload whose stored bytes are not an accepted video container: the video is failed. */
export class UploadRefusedError extends Error {
  override name = 'UploadRefusedError';
  readonly refusal: AppError;
  constructor(refusal: AppError) {
    super(refusal.message);
    this.refusal = refusal;
  }
}

/**
 * Where the bytes of a finished upload end up. With local-disk storage the tus file is renamed
 * into the FsObjectStore's layout (`<storage root>/<key>`): both live under the data dir, so
 * this is a cheap, atomic move. With S3 the tus store already wrote the object under this very
 * key (tus-server.ts maps upload ids to it), so nothing moves.
 */
async function moveIntoStorage(ctx: AppContext, videoId: string, size: number): Promise<void> {
  const { config } = ctx;
  if (config.storage.driver !== 'fs') return;
  const src = path.join(config.uploadsDir, videoId);
  const dest = path.join(config.storage.root, keys.original(videoId));
  await mkdir(path.dirname(dest), { recursive: true });
  try {
    await rename(src, dest);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EXDEV') {
      await copyFile(src, `${dest}.partial`);
      await rename(`${dest}.partial`, dest);
      await rm(src, { force: true });
      return;
    }
    // Moved already by a finish whose transaction did not commit (crash): the move is done.
    if (code === 'ENOENT' && (await stat(dest).catch(() => undefined))?.size === size) return;
    throw err;
  }
}

/** True when the bytes of a finished upload are already in place under its storage key. */
export async function storedOriginalSize(ctx: AppContext, videoId: string): Promise<number | undefined> {
  if (ctx.config.storage.driver === 'fs') {
    const st = await stat(path.join(ctx.config.storage.root, keys.original(videoId))).catch(() => undefined);
    return st?.isFile() ? st.size : undefined;
  }
  return (await ctx.store.head(keys.original(videoId)))?.size;
}

/**
 * Gives the stored original the detected type. Off the reply path and outside the transaction:
 * on S3 this is a copy of the object onto itself, which for gigabytes takes a while. Until it
 * is done (or if it fails) the object keeps the neutral type it was created with
 * (application/octet-stream, upload-store.ts), never the client's; Clipdock serves originals
 * with the type in `mime_type` either way.
 */
function retypeOriginal(ctx: AppContext, videoId: string, contentType: string): void {
  ctx.store.setContentType(keys.original(videoId), contentType).catch((err: unknown) => {
    ctx.log.warn({ err, videoId }, "could not set the stored original's content type");
  });
}

/**
 * Completes an upload whose last byte has arrived, in ONE transaction: the video goes
 * uploading → uploaded (conditionally, so a repeated finish does nothing and returns false), the
 * bytes are moved under the storage key before the commit (so `uploaded` always means stored),
 * the session is counted, upload_metrics gets a row, and the processing job is enqueued under
 * its job key (one job per video, however often this runs).
 *
 * Before any of that, the stored bytes are detected again (the sniff may never have ruled: a
 * short first request, S3). A file that is no accepted container, or reads as two things, fails
 * its video instead (credits released, bytes scheduled for deletion) and UploadRefusedError is
 * thrown. The stored type and `mime_type` are the detection's, never the client's.
 */
export async function finishUpload(ctx: AppContext, videoId: string): Promise<boolean> {
  let refused: AppError | undefined;
  let detectedType: string | undefined;
  const finished = await ctx.db.transaction().execute(async (tx) => {
    const video = await tx
      .selectFrom('videos')
      .selectAll()
      .where('id', '=', videoId)
      .where('status', '=', 'uploading')
      .forUpdate()
      .executeTakeFirst();
    if (!video) return false;
    const size = Number(video.declared_size);
    await moveIntoStorage(ctx, videoId, size);
    const verdict = await detectStoredOriginal(ctx, videoId, size);
    if (verdict.kind !== 'video') {
      refused = refusalOf(video.name, verdict);
      await toUploadEnded(tx, ctx.config, videoId, {
        status: 'failed',
        errorCode: refused.code,
        errorMessage: refused.message,
        reason: 'upload is not an accepted video container',
      });
      // On disk the bytes were moved under the storage key already.
      await scheduleCleanup(tx, [
        { kind: 'delete_object', target: keys.original(videoId), reason: 'refused at finish' },
      ]);
      return false;
    }
    const mime = verdict.container.mime;
    detectedType = mime;

    const row = await toUploaded(tx, videoId, { size, mime });
    // Unreachable: the row is locked as `uploading` above.
    if (!row) return false;

    const started = row.upload_started_at ?? row.created_at;
    const durationMs = Math.max(1, (row.upload_completed_at ?? new Date()).getTime() - started.getTime());
    await tx
      .insertInto('upload_metrics')
      .values({
        video_id: videoId,
        user_id: row.user_id,
        size_bytes: size,
        duration_ms: durationMs,
        bytes_per_second: (size * 1000) / durationMs,
        resumes: row.upload_resumes,
        error_type: null,
      })
      .execute();
    await enqueue(tx, 'process_video', { videoId }, { jobKey: processJobKey(videoId) });
    return true;
  });
  if (refused) throw new UploadRefusedError(refused);
  if (finished) countUploadOutcome('uploaded');
  if (finished && detectedType) retypeOriginal(ctx, videoId, detectedType);
  if (finished && ctx.config.storage.driver === 'fs') {
    // The tus sidecar is only needed while bytes may still arrive.
    await rm(path.join(ctx.config.uploadsDir, `${videoId}.json`), { force: true });
  }
  return finished;
}
