import type stream from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type DataStore, ERRORS } from '@tus/utils';
import type { AppContext } from '../context.ts';
import type { VideoRow } from '../db/types.ts';
import { ERRORS as APP_ERRORS } from '../errors.ts';
import { countUploadBody } from '../metrics/metrics.ts';
import { isStorageFull } from '../storage/full.ts';
import { toUploadEnded, UNFINISHED } from '../videos/upload-status.ts';
import type { UploadProgressWriter } from './progress.ts';
import { S3PartStore } from './s3-upload-store.ts';
import { SNIFF_BYTES, UploadMeter } from './upload-meter.ts';
import { isTusError, tusError, uploadRequest } from './upload-request.ts';
import { refusalOf } from './verdict.ts';

export interface UploadStoreDeps {
  ctx: AppContext;
  /** Maps a video id to the inner store's upload id (S3: the object key). */
  innerId: (videoId: string) => string;
  /** A writer into the partial file at `offset`, when the upload lives on local disk. */
  openWrite?: (innerId: string, offset: number) => stream.Writable;
  /**
   * The partial file's size (= the upload's offset), or undefined when there is none, when the
   * upload lives on local disk. One `stat` instead of the inner store's sidecar read plus `stat`.
   */
  storedBytes?: (innerId: string) => Promise<number | undefined>;
  /** The first `bytes` bytes already stored for an upload, when the store can read them back. */
  readHead?: (innerId: string, bytes: number) => Promise<Buffer>;
}

/** How many bytes of a request reached the partial file (local disk), and where to report it. */
interface StoredBytes {
  bytes?: () => number;
  report: (offset: number) => void;
}

/**
 * The write path of ClipdockUploadStore: a request body through the meter (sniff, size limit,
 * progress) into the partial file on local disk, or into the inner store (S3), with every way it
 * can end answered as a tus error of ours.
 */
export class UploadWriter {
  private readonly inner: DataStore;
  private readonly deps: UploadStoreDeps;
  private readonly progress: UploadProgressWriter;

  constructor(inner: DataStore, deps: UploadStoreDeps, progress: UploadProgressWriter) {
    this.inner = inner;
    this.deps = deps;
    this.progress = progress;
  }

  private get ctx() {
    return this.deps.ctx;
  }

  /**
   * Writes a request body at `offset`. `maxBytes` bounds the body (tus' limit for this request);
   * when `signal` aborts (the lock is handed to another request) reading stops and what arrived
   * is kept. Errors flow from the body to the meter only, so a refusal never destroys the
   * request stream under tus (which would report a premature close instead of our 415).
   */
  async writeBody(
    source: stream.Readable,
    id: string,
    offset: number,
    opts: { maxBytes?: number; signal?: AbortSignal },
  ): Promise<number> {
    const video = uploadRequest.getStore()?.video ?? (await this.loadVideo(id));
    const size = Number(video.declared_size);
    // On local disk, progress is what reached the file (not what the meter passed on to the
    // write buffer), so received_bytes never runs ahead of the bytes actually stored.
    const stored: StoredBytes = { report: (bytes) => this.progress.report(id, size, bytes) };
    const progress = (received: number) =>
      this.progress.report(id, size, stored.bytes ? offset + stored.bytes() : received);
    const target = Math.min(SNIFF_BYTES, size);
    const needsSniff = video.mime_type === null && offset < target;
    let prefix: Buffer = Buffer.alloc(0);
    if (needsSniff && offset > 0) {
      // An earlier request stored fewer bytes than the verdict needs: look at them again.
      prefix = (await this.deps.readHead?.(this.deps.innerId(id), offset)) ?? Buffer.alloc(0);
    }
    const meter = new UploadMeter({
      offset,
      size,
      maxBytes: opts.maxBytes ?? Number.POSITIVE_INFINITY,
      sniff: needsSniff && prefix.length === offset ? { prefix, target } : undefined,
      progress,
    });
    let sourceFailed = false;
    const onError = (err: Error) => {
      sourceFailed = true;
      source.unpipe(meter);
      meter.destroy(err);
    };
    const onClose = () => {
      if (!source.readableEnded && !opts.signal?.aborted) onError(new Error('request body closed early'));
    };
    const onAbort = () => {
      source.unpipe(meter);
      if (!meter.destroyed) meter.end();
    };
    source.on('error', onError);
    source.on('close', onClose);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    source.pipe(meter);
    let newOffset: number;
    try {
      newOffset = await this.store(meter, id, offset, stored);
    } catch (err) {
      source.unpipe(meter);
      const verdict = meter.rejected;
      if (verdict?.kind === 'not_video' || verdict?.kind === 'ambiguous') {
        const refusal = refusalOf(
          video.name,
          verdict.kind === 'not_video' ? { ...verdict, category: 'other' } : verdict,
        );
        await this.ctx.db.transaction().execute((tx) =>
          toUploadEnded(tx, this.ctx.config, id, {
            status: 'failed',
            errorCode: refusal.code,
            errorMessage: refusal.message,
            reason: 'upload is not an accepted video container',
          }),
        );
        throw tusError(refusal.code, refusal.message);
      }
      if (meter.tooLarge) throw ERRORS.ERR_MAX_SIZE_EXCEEDED;
      if (sourceFailed) throw ERRORS.ABORTED;
      throw err;
    } finally {
      source.off('error', onError);
      source.off('close', onClose);
      opts.signal?.removeEventListener('abort', onAbort);
      countUploadBody(meter.received);
    }
    if (meter.accepted?.kind === 'video') {
      // Once per upload, and before a finish can read it.
      await this.ctx.db
        .updateTable('videos')
        .set({ mime_type: meter.accepted.mime })
        .where('id', '=', id)
        .where('mime_type', 'is', null)
        .execute();
    }
    // The final offset of this request: written now or at the end of the rate limit's interval,
    // off the reply path. A finish that commits first makes it a no-op.
    this.progress.report(id, size, newOffset);
    return newOffset;
  }

  /** Stores the metered bytes: straight into the partial file when on disk, else via the store. */
  private async store(meter: UploadMeter, id: string, offset: number, stored: StoredBytes): Promise<number> {
    const file = this.deps.openWrite?.(this.deps.innerId(id), offset);
    if (!file) return this.storeInner(meter, id, offset, stored);
    const written = file as stream.Writable & { bytesWritten?: number };
    stored.bytes = () => written.bytesWritten ?? meter.received;
    try {
      await pipeline(meter, file);
    } catch (err) {
      // The bytes that did reach the file are the upload's progress.
      stored.report(offset + stored.bytes());
      // What reached the disk stays: it is the upload's offset, from which the client resumes.
      if (isStorageFull(err)) {
        this.ctx.log.error({ err, videoId: id, offset }, 'upload write refused: storage full');
        throw tusError('STORAGE_FULL');
      }
      this.ctx.log.debug({ err, videoId: id }, 'upload write ended early');
      throw ERRORS.FILE_WRITE_ERROR;
    }
    return offset + meter.received;
  }

  /**
   * Through the inner store (S3): what it acknowledged stays the upload's offset; a bucket that
   * refuses or does not answer is a STORAGE_FULL or STORAGE_UNAVAILABLE with its message.
   */
  private async storeInner(
    meter: UploadMeter,
    id: string,
    offset: number,
    stored: StoredBytes,
  ): Promise<number> {
    const inner = this.inner;
    try {
      if (inner instanceof S3PartStore) {
        // Progress is what S3 acknowledged (whole parts, then the tail), not what sits in the
        // part buffer.
        let acked = offset;
        stored.bytes = () => acked - offset;
        return await inner.write(meter, this.deps.innerId(id), offset, (o) => {
          acked = o;
          stored.report(o);
        });
      }
      return await inner.write(meter, this.deps.innerId(id), offset);
    } catch (err) {
      if (
        meter.rejected ||
        meter.tooLarge ||
        isTusError(err, (err as { status_code?: number }).status_code ?? 0)
      ) {
        throw err;
      }
      if (isStorageFull(err)) {
        this.ctx.log.error({ err, videoId: id, offset }, 'upload write refused: storage full');
        throw tusError('STORAGE_FULL');
      }
      if (meter.destroyed && !meter.writableFinished) throw err;
      // Ended meanwhile (expired, canceled): its multipart upload was aborted under the write.
      const now = await this.loadVideo(id);
      if (!UNFINISHED.includes(now.status)) {
        throw tusError('VIDEO_NOT_AWAITING_UPLOAD', APP_ERRORS.VIDEO_NOT_AWAITING_UPLOAD[1]);
      }
      this.ctx.log.error({ err, videoId: id, offset }, 'upload write failed: storage unavailable');
      throw tusError('STORAGE_UNAVAILABLE');
    }
  }

  private async loadVideo(id: string): Promise<VideoRow> {
    const video = await this.ctx.db.selectFrom('videos').selectAll().where('id', '=', id).executeTakeFirst();
    if (!video) throw tusError('UPLOAD_NOT_FOUND');
    return video;
  }
}
