import type stream from 'node:stream';
import { DataStore, ERRORS, Upload } from '@tus/utils';
import type { VideoRow } from '../db/types.ts';
import { ERRORS as APP_ERRORS } from '../errors.ts';
import { toUploadEnded, toUploading } from '../videos/upload-status.ts';
import { storedOriginalSize } from './finish.ts';
import { UploadProgressWriter } from './progress.ts';
import { finishOrRefuse, isTusError, tusError, uploadRequest } from './upload-request.ts';
import { type UploadStoreDeps, UploadWriter } from './upload-write.ts';

export { finishOrRefuse, tusError, type UploadRequestContext, uploadRequest } from './upload-request.ts';
export type { UploadStoreDeps } from './upload-write.ts';

/**
 * Clipdock's tus DataStore: wraps the real one (FileStore, or S3PartStore straight into the
 * bucket: s3-upload-store.ts) and binds every tus operation to its video row. Upload id = video
 * id. The write path is UploadWriter (upload-write.ts).
 *
 * - create: only for the caller's video awaiting upload, with the declared length; the video
 *   becomes `uploading` in the same transaction that checked it (under the tus lock).
 * - write: the first bytes are held back and sniffed before any reaches the store; a file that
 *   is not a video fails the request with 415 and the video with NOT_A_VIDEO. Progress is
 *   written at a bounded rate.
 * - remove (termination): the video is canceled, credits released, partial bytes scheduled for
 *   deletion, in one transaction, then the partial upload is removed.
 * - getUpload: also repairs an upload whose last byte arrived but whose finish did not commit
 *   (crash), so a client resuming with HEAD sees it complete and the video becomes `uploaded`.
 */

export class ClipdockUploadStore extends DataStore {
  private readonly inner: DataStore;
  private readonly deps: UploadStoreDeps;
  readonly progress: UploadProgressWriter;
  private readonly writer: UploadWriter;

  constructor(inner: DataStore, deps: UploadStoreDeps) {
    super();
    this.inner = inner;
    this.deps = deps;
    this.progress = new UploadProgressWriter(deps.ctx.db, deps.ctx.log);
    this.writer = new UploadWriter(inner, deps, this.progress);
    // No deferred length (the size is declared up front) and no concatenation.
    this.extensions = ['creation', 'creation-with-upload', 'termination', 'expiration'];
  }

  private get ctx() {
    return this.deps.ctx;
  }

  override async create(upload: Upload): Promise<Upload> {
    const videoId = upload.id;
    const userId = uploadRequest.getStore()?.video.user_id;
    await this.ctx.db.transaction().execute(async (tx) => {
      const video = await tx
        .selectFrom('videos')
        .selectAll()
        .where('id', '=', videoId)
        .$if(userId !== undefined, (q) => q.where('user_id', '=', userId!))
        .forUpdate()
        .executeTakeFirst();
      if (!video) throw tusError('VIDEO_NOT_FOUND');
      // `uploading` with nothing stored: a creation whose reply was lost (or a crash between the
      // commit and the file), so the client may create it again.
      const awaiting =
        video.status === 'pending_upload' || (video.status === 'uploading' && !(await this.exists(videoId)));
      if (!awaiting) {
        throw tusError(
          'VIDEO_NOT_AWAITING_UPLOAD',
          `This video is ${video.status}, not waiting for an upload. Resume the existing upload with HEAD, or create a new upload session.`,
        );
      }
      if (upload.size !== Number(video.declared_size)) {
        throw tusError(
          'UPLOAD_LENGTH_MISMATCH',
          `Upload-Length is ${upload.size ?? 'deferred'} but the session declared ${video.declared_size} bytes for "${video.name}".`,
        );
      }
      // The stored object's type is the server's: neutral until finish sets the detected one
      // (the S3 store would otherwise copy the client's `contentType` metadata onto the object).
      const { contentType: _type, cacheControl: _cache, ...metadata } = upload.metadata ?? {};
      await this.inner.create(
        new Upload({
          ...upload,
          id: this.deps.innerId(videoId),
          metadata: { ...metadata, contentType: 'application/octet-stream' },
        }),
      );
      if (!(await toUploading(tx, videoId))) throw tusError('VIDEO_NOT_AWAITING_UPLOAD');
    });
    return upload;
  }

  private async exists(videoId: string): Promise<boolean> {
    try {
      await this.inner.getUpload(this.deps.innerId(videoId));
      return true;
    } catch (err) {
      if (isTusError(err, 404) || isTusError(err, 410)) return false;
      throw err;
    }
  }

  override async getUpload(id: string): Promise<Upload> {
    try {
      const request = uploadRequest.getStore();
      const video = request?.video;
      const upload =
        (request?.patch && video ? await this.patchView(video) : undefined) ??
        (await this.inner.getUpload(this.deps.innerId(id)));
      upload.id = id;
      // Every byte is here but the finish never committed (a crash right after the last PATCH).
      if (video?.status === 'uploading' && upload.size !== undefined && upload.offset === upload.size) {
        await finishOrRefuse(this.ctx, id);
      }
      return upload;
    } catch (err) {
      if (!(isTusError(err, 404) || isTusError(err, 410))) throw err;
      const completed = await this.completedUpload(id);
      if (completed) return completed;
      throw err;
    }
  }

  /**
   * What a PATCH needs of an upload on local disk, from the row the route read and one `stat`:
   * the offset is the partial file's size (as FileStore reports it), the length the declared
   * size (checked equal at creation), the creation date the upload's start (same transaction as
   * the sidecar's). Undefined (the caller asks the inner store) when there is no partial file.
   */
  private async patchView(video: VideoRow): Promise<Upload | undefined> {
    if (!this.deps.storedBytes || video.status !== 'uploading') return undefined;
    const offset = await this.deps.storedBytes(this.deps.innerId(video.id));
    if (offset === undefined) return undefined;
    return new Upload({
      id: video.id,
      size: Number(video.declared_size),
      offset,
      creation_date: (video.upload_started_at ?? video.created_at).toISOString(),
    });
  }

  /** A finished upload's tus view (offset = size) once its bytes have moved to storage. */
  private async completedUpload(id: string): Promise<Upload | undefined> {
    const video = await this.ctx.db
      .selectFrom('videos')
      .select(['status', 'declared_size'])
      .where('id', '=', id)
      .executeTakeFirst();
    if (!video) return undefined;
    const size = Number(video.declared_size);
    if (video.status === 'uploading' && (await storedOriginalSize(this.ctx, id)) === size) {
      await finishOrRefuse(this.ctx, id);
    } else if (
      ['pending_upload', 'uploading', 'failed', 'canceled', 'upload_expired'].includes(video.status)
    ) {
      return undefined;
    }
    return new Upload({ id, size, offset: size });
  }

  override write(readable: stream.Readable, id: string, offset: number): Promise<number> {
    return this.writeBody(readable, id, offset, {});
  }

  /** See UploadWriter.writeBody (upload-write.ts). */
  writeBody(
    source: stream.Readable,
    id: string,
    offset: number,
    opts: { maxBytes?: number; signal?: AbortSignal },
  ): Promise<number> {
    return this.writer.writeBody(source, id, offset, opts);
  }

  private async loadVideo(id: string): Promise<VideoRow> {
    const video = await this.ctx.db.selectFrom('videos').selectAll().where('id', '=', id).executeTakeFirst();
    if (!video) throw tusError('UPLOAD_NOT_FOUND');
    return video;
  }

  override async remove(id: string): Promise<void> {
    const canceled = await this.ctx.db.transaction().execute((tx) =>
      toUploadEnded(tx, this.ctx.config, id, {
        status: 'canceled',
        reason: 'upload terminated by the client',
      }),
    );
    // Termination only ever ends an unfinished upload: a video whose bytes all arrived (uploaded,
    // processing, ready, ...) is deleted by the library's explicit action, never by a tus DELETE.
    if (!canceled) {
      const video = await this.loadVideo(id);
      const allReceived = Number(video.received_bytes) >= Number(video.declared_size);
      if (video.status === 'canceled' || video.status === 'upload_expired' || !allReceived) {
        throw tusError('VIDEO_NOT_AWAITING_UPLOAD', APP_ERRORS.VIDEO_NOT_AWAITING_UPLOAD[1]);
      }
      throw tusError('UPLOAD_ALREADY_FINISHED');
    }
    try {
      await this.inner.remove(this.deps.innerId(id));
    } catch (err) {
      // Nothing stored yet (terminated before creation), or already gone: the cleanup job
      // scheduled with the cancel deletes whatever is left either way.
      if (!isTusError(err, 404) && !isTusError(err, 410)) {
        this.ctx.log.warn({ err, videoId: id }, 'could not remove a terminated upload now; cleanup will');
      }
    }
  }

  override async declareUploadLength(): Promise<void> {
    throw ERRORS.UNSUPPORTED_CREATION_DEFER_LENGTH_EXTENSION;
  }

  /** Expiry is decided by the database (expire_uploads task), which also settles credits. */
  override async deleteExpired(): Promise<number> {
    return 0;
  }

  override getExpiration(): number {
    return this.inner.getExpiration();
  }
}
